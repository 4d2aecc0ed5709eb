"""Task state changes on the EventBridge bus: one event per state, published once under redelivery, removed from the
de-duplication record when publishing fails, the detail valid against openapi/task-state-change.schema.json and
free of keys and credentials. Events are received as a user would: a rule on the bus sends them to an SQS queue."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from eraser import aws, config
from eraser.clock import utc_now
from eraser.tasks import Selection, TaskKind, TaskStatus, create_task, events, get_task
from eraser.trash import SCHEDULE_REQUESTER
from tests.support import AwsStack, api_event, invoke, response_json
from tests.tasks_harness import TaskHarness, engine_fixture, fill, purge  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "openapi" / "task-state-change.schema.json").read_text(encoding="utf-8"))


class EventInbox:
    def __init__(self, stack: AwsStack) -> None:
        self.sqs = boto3.client("sqs")
        bus = stack.environment["EVENT_BUS_NAME"]
        self.queue_url = self.sqs.create_queue(QueueName="eraser-test-task-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        client = boto3.client("events")
        client.put_rule(Name="task-state-changes", EventBusName=bus,
                        EventPattern=json.dumps({"source": ["eraser"], "detail-type": ["Eraser Task State Change"]}))
        client.put_targets(Rule="task-state-changes", EventBusName=bus, Targets=[{"Id": "inbox", "Arn": arn}])
        self.received: list[dict[str, Any]] = []

    def events(self) -> list[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.received
            for message in messages:
                self.received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def of(self, task_id: str) -> list[dict[str, Any]]:
        return [event for event in self.events() if event["detail"]["task_id"] == task_id]


@pytest.fixture
def inbox(stack: AwsStack) -> EventInbox:
    return EventInbox(stack)


def test_an_event_per_state_published_once_when_every_message_is_delivered_twice(stack, tenant, engine, inbox):
    keys = fill(tenant, 20)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack, duplicate_deliveries=True).drain()
    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED

    received = inbox.of(task_id)

    assert Counter(event["detail"]["state"] for event in received) == {"created": 1, "running": 1, "completed": 1}
    assert {(event["source"], event["detail-type"]) for event in received} == {
        ("eraser", "Eraser Task State Change")}
    [completed] = [event["detail"] for event in received if event["detail"]["state"] == "completed"]
    assert completed["counts"]["deleted"] == len(keys) == task.counts.deleted
    assert completed["receipt"] == {"url": f"/v1/tasks/{task_id}/receipt",
                                    "bucket": stack.environment["RECEIPTS_BUCKET"],
                                    "summary_key": f"receipts/{task_id}/summary.json"}
    # The state recorded again (a retried step) publishes nothing more.
    events.task_state_changed(task)
    assert inbox.of(task_id) == received


def test_every_published_detail_validates_against_the_schema_and_names_no_key_or_secret(
        stack, tenant, engine, inbox):
    keys = fill(tenant, 10, prefix="secret-looking/")
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()
    running = response_json(purge(tenant))["task"]["id"]
    cancel = api_event("POST", "/v1/tasks/{task_id}/cancel", {"task_id": running}, headers=tenant.headers)
    assert invoke("cancel_task", cancel)["statusCode"] in (200, 202)

    received = inbox.events()

    validator = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
    assert {event["detail"]["state"] for event in received} == {"created", "running", "completed", "cancelled"}
    for event in received:
        assert list(validator.iter_errors(event["detail"])) == []
        text = json.dumps(event)
        assert not any(key in text for key in keys)
        assert tenant.api_key not in text and tenant.api_key.rsplit("_", 1)[1] not in text
    assert {event["detail"]["task_id"] for event in received} == {task_id, running}


def test_the_schema_file_is_the_openapi_document_s_component():
    document = yaml.safe_load((ROOT / "openapi" / "eraser.yaml").read_text(encoding="utf-8"))
    component = dict(document["components"]["schemas"]["TaskStateChange"])
    expected = {name: value for name, value in SCHEMA.items() if name not in ("$schema", "$id")}
    assert component.pop("description").startswith(expected.pop("description"))
    assert component == expected


def test_a_failed_publish_releases_its_record_so_that_the_state_can_be_published_later(
        stack, tenant, engine, inbox, monkeypatch):
    fill(tenant, 3)
    real = aws.events()

    class Refusing:
        def put_events(self, **arguments: Any) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "down"}]}

    monkeypatch.setattr(aws, "events", lambda: Refusing())
    task_id = response_json(purge(tenant))["task"]["id"]  # the creation is recorded, its event is not
    task = get_task(task_id)
    assert task.status == TaskStatus.PENDING and inbox.of(task_id) == []
    table = boto3.resource("dynamodb").Table(stack.environment["TASKS_TABLE"])
    assert "Item" not in table.get_item(Key={"pk": f"TASK#{task_id}", "sk": "EVENT#created"})

    monkeypatch.setattr(aws, "events", lambda: real)
    assert events.publish_once(task, None) is True
    assert events.publish_once(task, None) is False

    assert [event["detail"]["state"] for event in inbox.of(task_id)] == ["created"]
    assert "Item" in table.get_item(Key={"pk": f"TASK#{task_id}", "sk": "EVENT#created"})


def test_a_scheduled_trash_purge_names_its_schedule_as_trigger_and_actor(stack, tenant, inbox):
    requested_by = f"{SCHEDULE_REQUESTER}:run_0123"
    task = create_task(tenant.organization, TaskKind.TRASH_PURGE, [tenant.bucket], requested_by,
                       Selection.trash(utc_now()))

    [created] = inbox.of(task.id)
    assert created["detail"]["trigger"] == {"type": "schedule", "id": requested_by}
    assert created["detail"]["actor"] == {"type": "schedule", "id": requested_by}


def test_a_dry_run_task_publishes_its_states_as_kind_dry_run_and_deletes_nothing(stack, tenant, engine, inbox,
                                                                                 monkeypatch):
    keys = fill(tenant, 10)
    monkeypatch.setenv("SYNC_DELETE_LIMIT", "3")  # too many to plan within the request: a dry-run task plans it
    config.settings.cache_clear()
    event = api_event("DELETE", "/storage/obj/{bucket}/purge", {"bucket": tenant.bucket.name},
                      headers=tenant.headers, query={"dry_run": "true"})
    task_id = response_json(invoke("purge_bucket", event))["task"]["id"]
    TaskHarness(stack, duplicate_deliveries=True).drain()

    received = [event["detail"] for event in inbox.of(task_id)]
    validator = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
    assert Counter(detail["state"] for detail in received) == {"created": 1, "running": 1, "completed": 1}
    assert {detail["kind"] for detail in received} == {"dry_run"}
    assert all(list(validator.iter_errors(detail)) == [] for detail in received)
    [completed] = [detail for detail in received if detail["state"] == "completed"]
    # Its outcomes are its plan's predictions; nothing was deleted.
    assert completed["counts"]["outcomes"] == {"deleted": len(keys)} and completed["counts"]["deleted"] == 0
    assert completed["receipt"]["summary_key"] == f"receipts/{task_id}/summary.json"
    assert tenant.keys() == keys
