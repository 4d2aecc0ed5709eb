"""At-least-once delivery, crashes and throttling: every message kind delivered twice, concurrent copies of a listing
step, workers killed where it hurts (inside a listing step, between DeleteObjects and the count), SlowDown on whole
calls and on keys inside 200 bodies. Each ends with exact counts and nothing left."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eraser import config
from eraser.config import engine_settings
from eraser.tasks import TaskStatus, failures_of, get_task
from tests.support import LambdaContext, invoke, response_json
from tests.tasks_harness import (
    SimulatedCrash,
    TaskHarness,
    chunk_records,
    engine_fixture,  # noqa: F401
    fill,
    invoke_watchdog,
    move_clock,
    purge,
    versioned_history,
)


def _receive_all(harness: TaskHarness, queue_url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for _ in range(100):
        batch = harness.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                            AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
        if not batch:
            return messages
        messages += batch
    raise AssertionError("the queue did not empty")


def _keys_of(message: dict[str, Any]) -> list[str]:
    return [entry["k"] for entry in json.loads(message["Body"])["entries"]]


def test_two_copies_of_a_listing_step_side_by_side_count_each_key_once(stack, tenant, engine, monkeypatch):
    """The interleaving seen with every SQS send delivered twice: copy A of listing step 0 lists page 0 and enqueues
    it; that batch is deleted; copy B of the same step starts before A saved its cursor and lists from the start (now
    shifted by the deleted page); then A goes on. Two batch workers then count B's `seq 1` and A's `seq 2`, which
    hold the same keys."""
    monkeypatch.setenv("LISTING_PAGES_PER_STEP", "3")
    config.settings.cache_clear()
    keys = fill(tenant, 35)  # 5 pages of 7
    task_id = response_json(purge(tenant))["task"]["id"]
    harness = TaskHarness(stack)
    [step_zero] = _receive_all(harness, harness.listing_queue)
    copy = harness.sqs_event(harness.listing_queue, [step_zero])
    interleaved: list[bool] = []

    def second_copy_starts_while_the_first_lists(operation, arguments, calls):
        if operation == "list_objects_v2" and calls == 2 and not interleaved:
            interleaved.append(True)
            first_batch = harness.sqs.receive_message(QueueUrl=harness.deletion_queue, MaxNumberOfMessages=1)
            harness.deliver("batch_delete", harness.deletion_queue, first_batch["Messages"])
            invoke("listing", copy, LambdaContext(remaining_ms=120_000))

    engine.after_call = second_copy_starts_while_the_first_lists
    invoke("listing", copy, LambdaContext(remaining_ms=120_000))
    engine.after_call = None
    harness.sqs.delete_message(QueueUrl=harness.listing_queue, ReceiptHandle=step_zero["ReceiptHandle"])
    assert interleaved

    batches = _receive_all(harness, harness.deletion_queue)
    by_seq: dict[int, set[tuple[str, ...]]] = {}
    for message in batches:
        by_seq.setdefault(json.loads(message["Body"])["seq"], set()).add(tuple(_keys_of(message)))
    assert all(len(contents) == 1 for contents in by_seq.values()), f"one chunk id, several contents: {by_seq}"
    # Two batch workers at once, in the order that counted keys twice: every batch holding 0014.bin first.
    first = [message for message in batches if "0014.bin" in _keys_of(message)]
    for message in first:
        harness.deliver("batch_delete", harness.deletion_queue, [message])
    rest = [message for message in batches if message not in first]
    for start in range(0, len(rest), 5):
        harness.deliver("batch_delete", harness.deletion_queue, rest[start:start + 5])
    harness.drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == len(keys) == task.counts.versions_listed
    assert tenant.keys() == []



@pytest.mark.parametrize("versioned", [False, True])
def test_every_message_delivered_twice_leaves_counts_exact(stack, tenant, engine, versioned):
    bucket = tenant.add_bucket("twice", versioned=versioned)
    entries = versioned_history(tenant, bucket, 15) if versioned else len(fill(tenant, 30, bucket=bucket))
    tenant.s3.create_multipart_upload(Bucket=bucket.s3_bucket, Key="big.bin")
    task_id = response_json(purge(tenant, "twice"))["task"]["id"]
    TaskHarness(stack, duplicate_deliveries=True).drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == entries == task.counts.versions_listed
    assert task.counts.uploads_aborted == 1
    assert task.pass_number == 2  # the verification pass (delivered twice as well) ran once
    assert tenant.versions(bucket) == []


class _CrashOnce:
    def __init__(self, real, on_call: int) -> None:
        self.real, self.on_call, self.calls = real, on_call, 0

    def __call__(self, *arguments, **keywords):
        self.calls += 1
        if self.calls == self.on_call:
            raise SimulatedCrash()
        return self.real(*arguments, **keywords)


def test_listing_worker_killed_after_listing_before_enqueueing_is_taken_over_when_sqs_delivers_it_again(
        stack, tenant, engine, monkeypatch):
    import eraser.tasks.lister as lister

    keys = fill(tenant, 30)
    monkeypatch.setattr(lister, "send_chunks", _CrashOnce(lister.send_chunks, on_call=2))
    # The batch worker dies too, once, after DeleteObjects and before its batch is counted.
    harness = TaskHarness(stack, crash_deletion=lambda invocation: invocation == 1)
    task_id = response_json(purge(tenant))["task"]["id"]
    harness.drain()
    assert harness.run_stats.crashes == 2
    assert get_task(task_id).status == TaskStatus.RUNNING and harness.in_flight
    # Before the step's lease (120 s) ends nothing resumes it; the watchdog sees a live claim.
    assert invoke_watchdog(monkeypatch, later_by=60)["resumed"] == []

    move_clock(monkeypatch, 721)  # the listing queue's visibility timeout
    harness.redeliver_in_flight()
    harness.drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == len(keys) == task.counts.versions_listed
    assert tenant.keys() == []


def test_listing_worker_killed_holding_its_claim_is_resumed_by_the_watchdog(stack, tenant, engine, monkeypatch):
    import eraser.tasks.lister as lister

    keys = fill(tenant, 30)
    monkeypatch.setattr(lister, "send_chunks", _CrashOnce(lister.send_chunks, on_call=3))
    harness = TaskHarness(stack)
    task_id = response_json(purge(tenant))["task"]["id"]
    harness.drain()
    assert get_task(task_id).status == TaskStatus.RUNNING
    assert invoke_watchdog(monkeypatch, later_by=200)["resumed"] == [task_id]
    harness.drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == len(keys) == task.counts.versions_listed
    assert tenant.keys() == []


def test_listing_worker_killed_after_saving_before_enqueueing_the_next_step_is_resumed_by_the_watchdog(
        stack, tenant, engine, monkeypatch):
    import eraser.tasks.lister as lister

    keys = fill(tenant, 30)
    monkeypatch.setattr(lister, "send_listing_step", _CrashOnce(lister.send_listing_step, on_call=2))
    harness = TaskHarness(stack)
    task_id = response_json(purge(tenant))["task"]["id"]
    harness.drain()
    move_clock(monkeypatch, 721)
    harness.redeliver_in_flight()
    harness.drain()  # the redelivered step is stale (its hop was saved): it does nothing
    assert get_task(task_id).status == TaskStatus.RUNNING
    assert invoke_watchdog(monkeypatch, later_by=721 + 200)["resumed"] == [task_id]
    harness.drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == len(keys) == task.counts.versions_listed
    assert tenant.keys() == []


def test_keys_throttled_inside_200_bodies_beyond_the_retries_are_deleted_later_never_reported_failed(
        stack, tenant, engine):
    bucket = tenant.add_bucket("busy", versioned=True)
    entries = versioned_history(tenant, bucket, 12)
    real = engine._delete_objects
    throttled_calls = engine_settings().key_retry_attempts + 2

    def every_key_slows_down_at_first(arguments):
        if engine.count("delete_objects") <= throttled_calls:
            return {"Errors": [{**item, "Code": "SlowDown", "Message": "Please reduce your request rate."}
                               for item in arguments["Delete"]["Objects"]]}
        return real(arguments)

    engine._delete_objects = every_key_slows_down_at_first
    task_id = response_json(purge(tenant, "busy"))["task"]["id"]
    TaskHarness(stack).drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == entries and task.counts.failed == 0
    assert failures_of(task_id) == []
    assert all(int(chunk["failed"]) == 0 for chunk in chunk_records(stack, task_id))
    assert tenant.versions(bucket) == []
