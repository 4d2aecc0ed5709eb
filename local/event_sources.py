"""The template's event sources, run locally: SQS queues polled as Lambda's event source mapping does, and
EventBridge schedules.

SQS (``Type: SQS``): ``BatchSize``, ``MaximumBatchingWindowInSeconds`` and ``ScalingConfig.MaximumConcurrency``
(capped by the runner's local concurrency) shape the polling; each batch is delivered as Lambda's SQS event. A batch
whose invocation fails (exception, timeout) is left alone: its messages reappear after the queue's visibility timeout
and, after ``maxReceiveCount`` receives, the backend moves them to the dead-letter queue. With
``ReportBatchItemFailures`` only the messages not named in ``batchItemFailures`` are deleted; an invalid response fails
the whole batch, as Lambda does.

Schedules (``Type: Schedule``): ``rate(...)`` and ``cron(...)`` expressions invoke the function with EventBridge's
scheduled event; ``speedup`` divides rate intervals so that tests need not wait minutes.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from local.runner import Invocation
from local.template import PSEUDO_PARAMETERS, Resolver

LOG = logging.getLogger("eraser.local.event_sources")
REGION = PSEUDO_PARAMETERS["AWS::Region"]
ACCOUNT = PSEUDO_PARAMETERS["AWS::AccountId"]
# Lambda's default MaximumConcurrency is "as many as the queue needs"; locally the runner's cap applies.
DEFAULT_SQS_CONCURRENCY = 1000

Invoke = Callable[[str, dict[str, Any]], Invocation]


@dataclass(frozen=True)
class SqsSource:
    function: str
    name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window: float = 0.0
    concurrency: int = DEFAULT_SQS_CONCURRENCY
    report_batch_item_failures: bool = False


@dataclass(frozen=True)
class ScheduleSource:
    function: str
    name: str
    expression: str

    @property
    def rule_arn(self) -> str:
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/eraser-local-{self.function}{self.name}"


def sources_from_template(template: dict[str, Any], resolver: Resolver) -> list[SqsSource | ScheduleSource]:
    sources: list[SqsSource | ScheduleSource] = []
    for function, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            properties = event.get("Properties", {})
            if event.get("Type") == "SQS" and resolver(properties.get("Enabled", True)) not in (False, "false"):
                queue_arn = str(resolver(properties["Queue"]))
                sources.append(SqsSource(
                    function=function, name=name, queue_arn=queue_arn, queue_url=_queue_url(resolver, queue_arn),
                    batch_size=int(resolver(properties.get("BatchSize", 10))),
                    batching_window=float(resolver(properties.get("MaximumBatchingWindowInSeconds", 0))),
                    concurrency=int(resolver(properties.get("ScalingConfig", {}).get("MaximumConcurrency",
                                                                                     DEFAULT_SQS_CONCURRENCY))),
                    report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
                ))
            elif event.get("Type") == "Schedule" and resolver(properties.get("Enabled", True)) not in (False, "false"):
                sources.append(ScheduleSource(function=function, name=name,
                                              expression=str(resolver(properties["Schedule"]))))
    return sources


def _queue_url(resolver: Resolver, queue_arn: str) -> str:
    for (resource, attribute), value in resolver.attributes.items():
        if attribute == "Arn" and value == queue_arn:
            return str(resolver.refs[resource])
    raise ValueError(f"no queue with ARN {queue_arn} in the template")


# --- SQS -----------------------------------------------------------------------------------------------------------
def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    converted = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        converted[name] = item
    return converted


def sqs_event(messages: Iterable[dict[str, Any]], source: SqsSource) -> dict[str, Any]:
    """Lambda's SQS event for a batch of messages as ``ReceiveMessage`` returned them."""
    records = []
    for message in messages:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": REGION,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def settled_messages(messages: list[dict[str, Any]], outcome: Invocation,
                     report_batch_item_failures: bool) -> list[dict[str, Any]]:
    """The messages of a batch that Lambda would delete after this invocation."""
    if outcome.failed:
        return []
    if not report_batch_item_failures:
        return messages
    response = outcome.payload
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        # A null or empty response, or an empty or null list, means the whole batch succeeded.
        return messages
    batch_ids = {message["MessageId"] for message in messages}
    failed: set[str] = set()
    for failure in failures if isinstance(failures, list) else [None]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            # Lambda treats a malformed response, or one naming a message not in the batch, as a failed batch.
            return []
        failed.add(identifier)
    return [message for message in messages if message["MessageId"] not in failed]


# --- schedules -----------------------------------------------------------------------------------------------------
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The interval of a ``rate(...)`` expression, or None for a cron expression."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


_NAMES = {name: number for number, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_NAMES.update({name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)})


def _cron_field(text: str, low: int, high: int) -> set[int] | None:
    """The values a cron field allows (None for ``?``). ``L``, ``W`` and ``#`` are not supported locally."""
    if text == "?":
        return None
    values: set[int] = set()
    for part in text.upper().split(","):
        base, _, step = part.partition("/")
        if base in ("*", ""):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-")
            start, end = _NAMES.get(first) or int(first), _NAMES.get(last) or int(last)
        else:
            start = _NAMES.get(base) or int(base)
            end = high if step else start
        values.update(range(start, end + 1, int(step) if step else 1))
    return values


def next_cron_time(expression: str, after: datetime) -> datetime:
    """The next minute after ``after`` matching ``cron(minutes hours day-of-month month day-of-week year)`` (UTC)."""
    fields = expression.strip()[len("cron("):-1].split()
    minutes, hours, days, months, weekdays = (_cron_field(text, low, high) for text, (low, high) in
                                              zip(fields[:5], [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7)], strict=True))
    years = _cron_field(fields[5], 1970, 2199)
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        aws_weekday = (moment.weekday() + 1) % 7 + 1
        if ((minutes is None or moment.minute in minutes) and (hours is None or moment.hour in hours)
                and (months is None or moment.month in months) and (years is None or moment.year in years)
                and (days is None or moment.day in days) and (weekdays is None or aws_weekday in weekdays)):
            return moment
        moment += timedelta(minutes=1)
    raise ValueError(f"{expression} does not fire within a year")


def scheduled_event(source: ScheduleSource, now: datetime | None = None) -> dict[str, Any]:
    """EventBridge's event for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [source.rule_arn],
        "detail": {},
    }


# --- running -------------------------------------------------------------------------------------------------------
class EventSources:
    """Threads that poll the queues and fire the schedules until ``stop``."""

    def __init__(self, sources: list[SqsSource | ScheduleSource], invoke: Invoke, sqs: Any, *,
                 max_concurrency: int = 4, speedup: float = 1.0, poll_wait_seconds: int = 5) -> None:
        self.sources = sources
        self._invoke = invoke
        self._sqs = sqs
        self._max_concurrency = max_concurrency
        self._speedup = max(speedup, 1e-6)
        self._poll_wait = poll_wait_seconds
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for source in self.sources:
            if isinstance(source, SqsSource):
                for number in range(min(source.concurrency, self._max_concurrency)):
                    self._spawn(self._poll, source, f"sqs-{source.function}-{source.name}-{number}")
            else:
                self._spawn(self._schedule, source, f"schedule-{source.function}-{source.name}")

    def _spawn(self, target: Callable[[Any], None], source: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=(source,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, grace_seconds: float = 2.0) -> None:
        """Stop polling. A poller still inside a long poll is abandoned (daemon thread): it receives nothing it could
        lose, since an undelivered message simply becomes visible again after the visibility timeout."""
        self._stopping.set()
        deadline = time.monotonic() + grace_seconds
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0))

    # SQS ------------------------------------------------------------------------------------------------------------
    def _poll(self, source: SqsSource) -> None:
        while not self._stopping.is_set():
            try:
                messages = self.receive_batch(source)
                if messages and self._stopping.is_set():
                    self._release(source, messages)
                elif messages:
                    self.deliver(source, messages)
            except Exception:
                if not self._stopping.is_set():
                    LOG.exception("polling %s for %s failed", source.queue_url, source.function)
                self._stopping.wait(1)

    def receive_batch(self, source: SqsSource) -> list[dict[str, Any]]:
        """Up to ``BatchSize`` messages, gathered for at most the batching window once the first arrived."""
        messages: list[dict[str, Any]] = []
        window_ends = None
        while len(messages) < source.batch_size and not self._stopping.is_set():
            received = self._sqs.receive_message(
                QueueUrl=source.queue_url, MaxNumberOfMessages=min(10, source.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else self._poll_wait, AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += received
            if not messages:
                return messages
            window_ends = window_ends or time.monotonic() + source.batching_window
            if time.monotonic() >= window_ends:
                break
            if not received:
                self._stopping.wait(min(0.2, window_ends - time.monotonic()))
        return messages

    def deliver(self, source: SqsSource, messages: list[dict[str, Any]]) -> None:
        outcome = self._invoke(source.function, sqs_event(messages, source))
        if outcome.failed:
            LOG.warning("%s failed on a batch of %d from %s; the messages return after the visibility timeout",
                        source.function, len(messages), source.name)
        done = settled_messages(messages, outcome, source.report_batch_item_failures)
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(QueueUrl=source.queue_url, Entries=[
                {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                for number, message in enumerate(done[start:start + 10])])

    def _release(self, source: SqsSource, messages: list[dict[str, Any]]) -> None:
        # Received while stopping: make them visible again now rather than after the visibility timeout.
        for start in range(0, len(messages), 10):
            self._sqs.change_message_visibility_batch(QueueUrl=source.queue_url, Entries=[
                {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for number, message in enumerate(messages[start:start + 10])])

    # schedules ------------------------------------------------------------------------------------------------------
    def _schedule(self, source: ScheduleSource) -> None:
        interval = rate_seconds(source.expression)
        while True:
            if interval is not None:
                wait = interval / self._speedup
            else:
                now = datetime.now(UTC)
                wait = (next_cron_time(source.expression, now) - now).total_seconds()
            if self._stopping.wait(wait):
                return
            try:
                outcome = self._invoke(source.function, scheduled_event(source))
                if outcome.failed:
                    LOG.warning("scheduled %s failed: %s", source.function, outcome.payload)
            except Exception:
                LOG.exception("scheduled invocation of %s failed", source.function)
