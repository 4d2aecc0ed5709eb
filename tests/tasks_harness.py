"""Drives the task engine on moto the way Lambda would: receives from the template's queues and invokes the real
handlers (ListingFunction, BatchDeleteFunction, DeadLetterFunction) with real SQS events, deletes what they
processed, lets failed records come back (and reach the dead-letter queue after maxReceiveCount), until the task is
finished and the queues are empty, within an iteration cap.

Faults are injected where Lambda and S3 produce them:
- ``FaultyS3`` wraps the S3 client the engine uses: a share of DeleteObjects calls answer 503 SlowDown, a share of
  keys come back as per-key ``SlowDown``/``InternalError`` errors, a callable refuses chosen keys, a hook runs after
  any call (to write objects during a purge or to crash the worker after S3 did its part). It records every call so
  tests can check ``ExpectedBucketOwner`` and that no DeleteObjects call carries more than 1000 keys.
- ``SimulatedCrash`` is a BaseException: Powertools' batch processor does not catch it, so the whole invocation dies
  like a Lambda timeout or out-of-memory, and every message of the batch is redelivered.
- ``duplicate_deliveries`` delivers every listing step (verification passes and finalization included) and every
  deletion batch twice (SQS is at-least-once).
- A crashed listing invocation's message stays in flight (SQS hides it for the visibility timeout, longer than the
  step's claim) until ``redeliver_in_flight``; ``move_clock`` moves the engine's clock past leases and bounds.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from eraser import aws, config
from tests.openapi_check import assert_matches_openapi
from tests.support import AwsStack, LambdaContext, Tenant, api_event, invoke, list_versions, load_event

BYSTANDER_BUCKET = "eraser-test-bystander"


class SimulatedCrash(BaseException):
    """The invocation dies (timeout, out of memory): nothing after this point runs, no partial response."""


@dataclass
class S3Call:
    operation: str
    arguments: dict[str, Any]


@dataclass
class FaultyS3:
    real: Any
    seed: int = 7
    # Share of DeleteObjects calls answered by a 503 SlowDown (what is left after botocore's retries gave up).
    slowdown_call_share: float = 0.0
    # Share of keys a DeleteObjects call reports as a retryable per-key error (the call itself answers 200).
    retryable_key_share: float = 0.0
    # key -> (code, message) for keys S3 refuses for good; None lets the key through.
    refuse_key: Callable[[str], tuple[str, str] | None] | None = None
    # Called after each S3 call with (operation, arguments, number of that operation's calls so far).
    after_call: Callable[[str, dict[str, Any], int], None] | None = None
    calls: list[S3Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call.operation == operation)

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self.real, operation)
        if not callable(method) or operation.startswith("_") or operation in (
                "meta", "exceptions", "get_paginator", "can_paginate", "get_waiter"):
            return method

        def call(**arguments: Any) -> Any:
            self.calls.append(S3Call(operation, copy.deepcopy(arguments)))
            if operation == "delete_objects":
                result = self._delete_objects(arguments)
            else:
                result = method(**arguments)
            if self.after_call is not None:
                self.after_call(operation, arguments, self.count(operation))
            return result

        return call

    def _delete_objects(self, arguments: dict[str, Any]) -> dict[str, Any]:
        if self.slowdown_call_share and self._random.random() < self.slowdown_call_share:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, "DeleteObjects")
        errors: list[dict[str, Any]] = []
        passed: list[dict[str, Any]] = []
        for item in arguments["Delete"]["Objects"]:
            refusal = self.refuse_key(item["Key"]) if self.refuse_key else None
            if refusal is None and self.retryable_key_share and self._random.random() < self.retryable_key_share:
                refusal = self._random.choice([("SlowDown", "Please reduce your request rate."),
                                               ("InternalError", "We encountered an internal error.")])
            if refusal is None:
                passed.append(item)
            else:
                errors.append({**item, "Code": refusal[0], "Message": refusal[1]})
        answer: dict[str, Any] = {"Deleted": []}
        if passed:
            answer = self.real.delete_objects(**{**arguments, "Delete": {**arguments["Delete"], "Objects": passed}})
        if errors:
            answer["Errors"] = [*answer.get("Errors", []), *errors]
        return answer


@dataclass
class HarnessRun:
    iterations: int = 0
    listing_invocations: int = 0
    deletion_invocations: int = 0
    dead_letter_invocations: int = 0
    crashes: int = 0


class TaskHarness:
    def __init__(self, stack: AwsStack, *, deletion_batch_size: int = 5, duplicate_deliveries: bool = False,
                 crash_deletion: Callable[[int], bool] | None = None,
                 after_listing_step: Callable[[int], None] | None = None) -> None:
        self.sqs = boto3.client("sqs")
        self.listing_queue = stack.queue_url("ListingQueue")
        self.deletion_queue = stack.queue_url("DeletionQueue")
        self.dead_letter_queues = [stack.queue_url("ListingDeadLetterQueue"),
                                   stack.queue_url("DeletionDeadLetterQueue")]
        self.deletion_batch_size = deletion_batch_size
        self.duplicate_deliveries = duplicate_deliveries
        # Called with the deletion invocation number; True makes that invocation crash after S3 did its part.
        self.crash_deletion = crash_deletion
        self.after_listing_step = after_listing_step
        self.run_stats = HarnessRun()
        self.in_flight: list[tuple[str, str]] = []

    def redeliver_in_flight(self) -> None:
        """The visibility timeout of the messages of crashed listing invocations has passed: SQS shows them again."""
        for queue_url, receipt in self.in_flight:
            self.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
        self.in_flight = []

    # --- events ------------------------------------------------------------------------------------------------------
    def _arn(self, queue_url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def sqs_event(self, queue_url: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        template = load_event("batch_delete.json")["Records"][0]
        arn = self._arn(queue_url)
        records = []
        for message in messages:
            record = copy.deepcopy(template)
            record.update({"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                           "body": message["Body"], "md5OfBody": message["MD5OfBody"], "eventSourceARN": arn})
            record["attributes"]["ApproximateReceiveCount"] = message.get("Attributes", {}).get(
                "ApproximateReceiveCount", "1")
            records.append(record)
        return {"Records": records}

    def _receive(self, queue_url: str, count: int) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=count,
                                          AttributeNames=["ApproximateReceiveCount"])
        return list(answer.get("Messages", []))

    def _settle(self, queue_url: str, messages: list[dict[str, Any]], failed_ids: set[str]) -> None:
        for message in messages:
            if message["MessageId"] in failed_ids:
                # SQS would show it again after the visibility timeout; do it now.
                self.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                                   VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def deliver(self, function: str, queue_url: str, messages: list[dict[str, Any]],
                 crash: bool = False) -> None:
        event = self.sqs_event(queue_url, messages)
        try:
            # The ListingFunction's timeout (120 s) is what its step claims are leased for.
            remaining_ms = 120_000 if function == "listing" else 900_000
            response = invoke(function, event, LambdaContext(remaining_ms=remaining_ms))
            failed = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
            if crash:
                raise SimulatedCrash()
        except SimulatedCrash:
            self.run_stats.crashes += 1
            if function == "listing":
                # A dead listing invocation's message stays invisible for the queue's visibility timeout (720 s),
                # longer than its step's claim: see redeliver_in_flight.
                self.in_flight += [(queue_url, message["ReceiptHandle"]) for message in messages]
                return
            failed = {message["MessageId"] for message in messages}
        except BatchProcessingError:
            # BatchProcessingError (every record failed): Lambda retries the whole batch.
            failed = {message["MessageId"] for message in messages}
        self._settle(queue_url, messages, failed)

    # --- driving -----------------------------------------------------------------------------------------------------
    def step(self) -> bool:
        """One round: a listing step, a deletion batch, dead letters. False when every queue was empty."""
        progressed = False
        listing = self._receive(self.listing_queue, 1)
        if listing:
            progressed = True
            self.run_stats.listing_invocations += 1
            if self.duplicate_deliveries:
                # Listing steps, verification passes and finalization are delivered twice too.
                invoke("listing", self.sqs_event(self.listing_queue, listing), LambdaContext(remaining_ms=120_000))
            self.deliver("listing", self.listing_queue, listing)
            if self.after_listing_step:
                self.after_listing_step(self.run_stats.listing_invocations)
        deletion = self._receive(self.deletion_queue, self.deletion_batch_size)
        if deletion:
            progressed = True
            self.run_stats.deletion_invocations += 1
            crash = bool(self.crash_deletion and self.crash_deletion(self.run_stats.deletion_invocations))
            if self.duplicate_deliveries:
                # The same batch delivered twice (e.g. the first invocation's delete of the messages was lost).
                invoke("batch_delete", self.sqs_event(self.deletion_queue, deletion), LambdaContext())
            self.deliver("batch_delete", self.deletion_queue, deletion, crash=crash)
        for queue_url in self.dead_letter_queues:
            dead = self._receive(queue_url, 10)
            if dead:
                progressed = True
                self.run_stats.dead_letter_invocations += 1
                self.deliver("dead_letter", queue_url, dead)
        return progressed

    def drain(self, max_iterations: int = 2000) -> HarnessRun:
        """Run until every queue is empty (the task engine has nothing left to do)."""
        for _ in range(max_iterations):
            self.run_stats.iterations += 1
            if not self.step():
                return self.run_stats
        raise AssertionError(f"the engine did not settle within {max_iterations} iterations")

    def queue_depth(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages",
                                                "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


# --- fixtures and helpers of the engine's tests ---------------------------------------------------------------------
def move_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The engine's clock (claims, leases, heartbeats, the watchdog) moved on by ``seconds``: waited for, not slept."""
    later = datetime.now(UTC) + timedelta(seconds=seconds)
    for module in ("supervision", "repository", "lister"):
        monkeypatch.setattr(f"eraser.tasks.{module}.utc_now", lambda: later)


def invoke_watchdog(monkeypatch: pytest.MonkeyPatch | None = None, later_by: float = 0) -> dict[str, Any]:
    if monkeypatch is not None and later_by:
        move_clock(monkeypatch, later_by)
    return invoke("task_watchdog", load_event("task_watchdog.json"))


@pytest.fixture(name="engine")
def engine_fixture(stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyS3]:
    """Small pages (7 entries) and one page per listing step so that a few dozen keys make many pages and hops;
    the S3 client the engine uses is a FaultyS3 around moto's."""
    for name, value in {"LISTING_PAGE_SIZE": "7", "LISTING_PAGES_PER_STEP": "1", "KEY_RETRY_BASE_SECONDS": "0"}.items():
        monkeypatch.setenv(name, value)
    config.settings.cache_clear()
    client = boto3.client("s3")
    # A bucket no task targets, with versions, a delete marker, a folder marker and an upload: every engine test
    # ends by checking that it is exactly as it was.
    client.create_bucket(Bucket=BYSTANDER_BUCKET)
    client.put_bucket_versioning(Bucket=BYSTANDER_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for key in ("0000.bin", "dir/", "kept/a", "kept/a"):
        client.put_object(Bucket=BYSTANDER_BUCKET, Key=key, Body=b"bystander")
    client.delete_object(Bucket=BYSTANDER_BUCKET, Key="kept/a")
    upload = client.create_multipart_upload(Bucket=BYSTANDER_BUCKET, Key="upload.bin")["UploadId"]
    before = list_versions(client, BYSTANDER_BUCKET)
    faulty = FaultyS3(client)
    monkeypatch.setattr(aws, "s3", lambda: faulty)
    yield faulty
    config.settings.cache_clear()
    assert list_versions(client, BYSTANDER_BUCKET) == before, "a task touched a bucket it did not target"
    uploads = client.list_multipart_uploads(Bucket=BYSTANDER_BUCKET).get("Uploads", [])
    assert [item["UploadId"] for item in uploads] == [upload]


def fill(tenant: Tenant, count: int, prefix: str = "", bucket: Any = None) -> list[str]:
    keys = [f"{prefix}{index:04d}.bin" for index in range(count)]
    for key in keys:
        tenant.put(key, b"payload", bucket=bucket)
    return keys


def versioned_history(tenant: Tenant, bucket: Any, count: int) -> int:
    """Objects with two versions each, a third of them deleted (a delete marker on top): returns all entries."""
    entries = 0
    for index in range(count):
        key = f"docs/{index:03d}.txt"
        tenant.put(key, b"v1", bucket=bucket)
        tenant.put(key, b"v2-longer", bucket=bucket)
        entries += 2
        if index % 3 == 0:
            tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key=key)
            entries += 1
    return entries


def purge(tenant: Tenant, bucket_name: str | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = api_event("DELETE", "/storage/obj/{bucket}/purge", {"bucket": bucket_name or tenant.bucket.name},
                      headers={**tenant.headers, **(headers or {})})
    return documented(invoke("purge_bucket", event), "DELETE", "/storage/obj/{bucket}/purge")


def documented(response: dict[str, Any], method: str, route: str) -> dict[str, Any]:
    """The response, after checking it is what openapi/eraser.yaml promises for the route."""
    assert_matches_openapi(response, method, route)
    return response


def assert_owner_on_every_call(faulty: FaultyS3, tenant: Tenant) -> None:
    assert faulty.calls, "the engine made no S3 call"
    for call in faulty.calls:
        assert call.arguments.get("ExpectedBucketOwner") == tenant.organization.account_id, call.operation
    assert max((len(call.arguments["Delete"]["Objects"]) for call in faulty.calls
                if call.operation == "delete_objects"), default=0) <= 1000


def chunk_records(stack: AwsStack, task_id: str) -> list[dict[str, Any]]:
    """The task's chunk records (one per counted batch), to see which pass deleted what."""
    table = boto3.resource("dynamodb").Table(stack.environment["TASKS_TABLE"])
    items = table.query(KeyConditionExpression="pk = :pk AND begins_with(sk, :chunk)",
                        ExpressionAttributeValues={":pk": f"TASK#{task_id}", ":chunk": "CHUNK#"})["Items"]
    return list(items)
