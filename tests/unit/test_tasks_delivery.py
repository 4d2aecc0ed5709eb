"""At-least-once delivery, crashes and throttling: every message kind delivered twice, concurrent copies of a listing
step, workers killed where it hurts (inside a listing step, between DeleteObjects and the count), SlowDown on whole
calls and on keys inside 200 bodies. Each ends with exact counts and nothing left."""

from __future__ import annotations

import json
from typing import Any

from eraser.tasks import TaskStatus, get_task
from tests.support import LambdaContext, invoke, response_json
from tests.tasks_harness import (
    TaskHarness,
    engine_fixture,  # noqa: F401
    fill,
    purge,
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
    from eraser.tasks.settings import engine_settings

    engine_settings.cache_clear()
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
