"""The local SQS event source mapping, with a fake function: Lambda's SQS event, partial batch failures, failed
batches left to the visibility timeout and the dead-letter queue, and the batching window."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import boto3
import pytest

from local.event_sources import EventSources, ScheduleSource, SqsSource, settled_messages, sqs_event
from local.runner import Invocation
from tests.support import AwsStack


class FakeFunction:
    """Records the events it gets and answers with ``respond(event)``."""

    def __init__(self, respond: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.respond = respond or (lambda event: Invocation(None, failed=False))
        self.called = threading.Event()

    def __call__(self, function: str, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        self.called.set()
        outcome: Invocation = self.respond(event)
        return outcome


@pytest.fixture
def queue() -> tuple[Any, str, str, str]:
    """A queue with visibility timeout 0 redriving to a dead-letter queue after 2 receives: (sqs, url, arn, dlq url)."""
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="local-test-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="local-test", Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn, dlq


def _source(queue: tuple[Any, str, str, str], **overrides: Any) -> SqsSource:
    _, url, arn, _ = queue
    return SqsSource(**{"function": "Fake", "name": "Batches", "queue_url": url, "queue_arn": arn, "batch_size": 10,
                        "report_batch_item_failures": True, **overrides})


def _bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(message["Body"] for message in messages)


def test_sqs_event_has_lambda_s_record_shape(stack: AwsStack, queue: tuple[Any, str, str, str]) -> None:
    sqs, url, arn, _ = queue
    sqs.send_message(QueueUrl=url, MessageBody='{"batch": 1}', MessageAttributes={
        "task": {"DataType": "String", "StringValue": "t-1"}, "raw": {"DataType": "Binary", "BinaryValue": b"\x00"}})
    source = _source(queue)
    sources = EventSources([source], FakeFunction(), sqs, poll_wait_seconds=0)
    event = sqs_event(sources.receive_batch(source), source)
    (record,) = event["Records"]
    assert record["body"] == '{"batch": 1}'
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["task"] == {"stringValue": "t-1", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert base64.b64decode(record["messageAttributes"]["raw"]["binaryValue"]) == b"\x00"
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]


def test_partial_batch_failure_deletes_only_the_successful_messages(
        stack: AwsStack, queue: tuple[Any, str, str, str]) -> None:
    sqs, url, _, _ = queue
    for body in ("ok-1", "bad", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    source = _source(queue)

    def fail_bad(event: dict[str, Any]) -> Invocation:
        failures = [{"itemIdentifier": record["messageId"]} for record in event["Records"] if record["body"] == "bad"]
        return Invocation({"batchItemFailures": failures}, failed=False)

    sources = EventSources([source], FakeFunction(fail_bad), sqs, poll_wait_seconds=0)
    messages = sources.receive_batch(source)
    assert len(messages) == 3
    sources.deliver(source, messages)
    assert _bodies(sqs, url) == ["bad"]


def test_a_failed_invocation_deletes_nothing_and_the_queue_redrives_to_its_dead_letter_queue(
        stack: AwsStack, queue: tuple[Any, str, str, str]) -> None:
    sqs, url, _, dlq = queue
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    source = _source(queue)
    function = FakeFunction(lambda event: Invocation({"errorMessage": "boom", "errorType": "Exception"}, failed=True))
    sources = EventSources([source], function, sqs, poll_wait_seconds=0)
    for _ in range(2):
        sources.deliver(source, sources.receive_batch(source))
    assert [event["Records"][0]["attributes"]["ApproximateReceiveCount"] for event in function.events] == ["1", "2"]
    # The third receive finds it past maxReceiveCount: the backend moves it to the dead-letter queue.
    assert sources.receive_batch(source) == []
    assert _bodies(sqs, dlq) == ["poison"]


@pytest.mark.parametrize("response", [
    {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"id": "wrong key"}]},
    {"batchItemFailures": "nonsense"},
])
def test_an_invalid_batch_response_fails_the_whole_batch(response: dict[str, Any]) -> None:
    messages = [{"MessageId": "m-1"}, {"MessageId": "m-2"}]
    assert settled_messages(messages, Invocation(response, failed=False), report_batch_item_failures=True) == []


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "done"])
def test_an_empty_batch_response_succeeds_the_whole_batch(response: Any) -> None:
    messages = [{"MessageId": "m-1"}, {"MessageId": "m-2"}]
    assert settled_messages(messages, Invocation(response, failed=False), report_batch_item_failures=True) == messages


def test_without_report_batch_item_failures_a_successful_invocation_settles_everything() -> None:
    messages = [{"MessageId": "m-1"}]
    response = Invocation({"batchItemFailures": [{"itemIdentifier": "m-1"}]}, failed=False)
    assert settled_messages(messages, response, report_batch_item_failures=False) == messages


def test_batches_are_at_most_batch_size(stack: AwsStack, queue: tuple[Any, str, str, str]) -> None:
    sqs, url, _, _ = queue
    for number in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=str(number))
    source = _source(queue, batch_size=5)
    sources = EventSources([source], FakeFunction(), sqs, poll_wait_seconds=0)
    assert len(sources.receive_batch(source)) == 5


def test_a_batching_window_gathers_more_than_ten_messages(stack: AwsStack, queue: tuple[Any, str, str, str]) -> None:
    sqs = queue[0]
    url = sqs.create_queue(QueueName="local-test-window")["QueueUrl"]
    for start in range(0, 25, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)}
                                                      for n in range(start, min(start + 10, 25))])
    source = _source(queue, queue_url=url, batch_size=25, batching_window=1)
    sources = EventSources([source], FakeFunction(), sqs, poll_wait_seconds=0)
    assert sorted(int(message["Body"]) for message in sources.receive_batch(source)) == list(range(25))


def test_pollers_deliver_until_stopped(stack: AwsStack, queue: tuple[Any, str, str, str]) -> None:
    sqs, url, _, _ = queue
    function = FakeFunction()
    sources = EventSources([_source(queue)], function, sqs, poll_wait_seconds=0)
    sources.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert function.called.wait(timeout=30)
    finally:
        sources.stop()
    assert function.events[0]["Records"][0]["body"] == "hello"
    assert _bodies(sqs, url) == []


def test_schedules_fire_with_a_speedup(stack: AwsStack) -> None:
    function = FakeFunction()
    source = ScheduleSource(function="TaskWatchdogFunction", name="Watchdog", expression="rate(1 minute)")
    sources = EventSources([source], function, None, speedup=600)
    sources.start()
    try:
        assert function.called.wait(timeout=30)
    finally:
        sources.stop()
    assert function.events[0]["detail-type"] == "Scheduled Event"
