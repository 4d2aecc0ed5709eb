"""`python -m bench.scale.engine_drive`: Eraser's real engine code on the model, call by call, in virtual time.

The real lister step (``tasks.lister.run_listing_message``), worker (``tasks.worker.delete_chunk_message``), pass end
(``tasks.engine``) and repository (``tasks.repository``, ``record_chunk`` included) run unchanged. What they call is
replaced at the factories they get it from:

- S3: ``storage.gateway.open_bucket`` gives a ``ModelGateway``, the real ``BucketGateway`` (its pages, its walks, its
  retries of whole calls) with only one attempt of one S3 call (``_attempt``) answered by the model
  (``bench.scale.s3``): lazily generated keys, partitions, request limits, SlowDown; an attempt retries a 503 the
  way botocore's standard mode does inside the retrying client (8 attempts), in virtual time, and the engine's own
  pauses between retries (``storage.retries.wait``) advance virtual time instead of sleeping;
- DynamoDB: moto's, in this process, for the conditions and the data; in front of it the model's limits: per-item
  write/read units (throttling, retried like botocore) and transaction holds (a write on an item inside another
  transaction gets TransactionConflictException, a transaction TransactionCanceledException with a
  TransactionConflict reason: both are 400s botocore does not retry, so the engine sees them);
- SQS: the model's queues and Lambda event sources (scaling, MaximumConcurrency, visibility timeout, redelivery).

Each invocation runs at a virtual instant; every call it makes is timed at the invocation's start plus the modeled
service times of the calls before it, and the engine's own CPU (measured, without moto's) scaled to the function's
CPU share. The invocation then holds its Lambda slot for that long. Invocations run one after the other in virtual
order, each to its end: effects of overlapping invocations are applied at their calls, not interleaved within a call.

Simulated exactly at small sizes (1e4-1e6 keys); ``--compare`` runs the per-stage model (``contenders.eraser``) on
the same bucket with the same parameters, so its call structure and time can be checked against the real code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bench.scale import contenders
from bench.scale.clock import Simulator
from bench.scale.keyspace import Bucket, Position, Run
from bench.scale.parameters import Values
from bench.scale.s3 import S3Model
from bench.scale.services import (
    DynamoDBModel,
    EventSource,
    Message,
    Queue,
    Throttled,
    TransactionConflict,
    botocore_delay,
)

EPOCH = datetime(2026, 12, 1, tzinfo=UTC)
OBJECTS_WRITTEN_AT = EPOCH - timedelta(days=30)
ACCOUNT = "123456789012"
LISTING_TIMEOUT_MS = 120_000


@dataclass
class Invocation:
    """The virtual time of the invocation running now: its start and the service time of its calls so far."""

    start: float = 0.0
    elapsed: float = 0.0
    excluded_cpu: float = 0.0
    # The function's CPU share (memory / 1,769 MB of a vCPU): CPU measured here takes this many times longer there.
    cpu_factor: float = 1.0

    def add_client_cpu(self, milliseconds: float) -> None:
        """botocore's parsing of an answer the model gives already parsed (measured: scale-measurements.json)."""
        self.elapsed += milliseconds / 1000 * self.cpu_factor

    @property
    def now(self) -> float:
        return self.start + self.elapsed


class Drive:
    def __init__(self, values: Values, bucket: Bucket, s3: S3Model, sim: Simulator, rng: random.Random) -> None:
        self.values = values
        self.bucket = bucket
        self.s3 = s3
        self.sim = sim
        self.rng = rng
        self.ddb = DynamoDBModel(values, rng)
        self.invocation = Invocation()
        self.requests: Counter[str] = Counter()
        self.queues: dict[str, Queue] = {}

    # --- S3 ---------------------------------------------------------------------------------------------------------
    def key_runs(self, keys: list[str]) -> list[Run]:
        runs: list[Run] = []
        for key in keys:
            prefix, _, name = key.partition("/")
            p, e = int(prefix[1:]), int(name)
            if runs and runs[-1][0] == p and runs[-1][2] == e:
                runs[-1] = (p, runs[-1][1], e + 1)
            else:
                runs.append((p, e, e + 1))
        return runs

    def s3_retrying(self, call: Any, operation: str) -> Any:
        """botocore's standard retries of a 503: 8 attempts, rand(0,1) x 2^n s between them, in virtual time."""
        attempts = int(self.values.botocore_max_attempts)
        for attempt in range(attempts):
            started = time.process_time()
            latency, answer = call(self.invocation.now)
            self.invocation.excluded_cpu += time.process_time() - started
            self.invocation.elapsed += latency
            if answer is not None:
                return answer
            if attempt + 1 < attempts:
                self.invocation.elapsed += botocore_delay(self.rng, attempt)
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                           "ResponseMetadata": {"HTTPStatusCode": 503}}, operation)

    # --- DynamoDB: moto's, behind the model's limits ---------------------------------------------------------------
    def ddb_call(self, operation: str, model_call: Any, real_call: Any) -> Any:
        attempts = int(self.values.botocore_max_attempts)
        for attempt in range(attempts):
            try:
                latency = model_call(self.invocation.now)
            except Throttled:
                self.invocation.elapsed += botocore_delay(self.rng, attempt)
                continue
            except TransactionConflict:
                self.invocation.elapsed += self.values.ddb_update_median_ms / 1000
                if operation == "TransactWriteItems":
                    raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                                 "Message": "Transaction cancelled"},
                                       "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                                       "ResponseMetadata": {"HTTPStatusCode": 400}}, operation) from None
                raise ClientError({"Error": {"Code": "TransactionConflictException",
                                             "Message": "Operation was rejected because there is an ongoing "
                                                        "transaction for the item."},
                                   "ResponseMetadata": {"HTTPStatusCode": 400}}, operation) from None
            started = time.process_time()
            try:
                return real_call()
            finally:
                self.invocation.excluded_cpu += time.process_time() - started
                self.invocation.elapsed += latency
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)

    # --- SQS ------------------------------------------------------------------------------------------------------------
    def send(self, queue_url: str, bodies: list[str]) -> None:
        queue = self.queues[queue_url.rsplit("/", 1)[-1]]
        kib = max(len(body.encode()) for body in bodies) / 1024
        # Sent at the invocation's own time, which may be ahead of the simulator's.
        self.invocation.elapsed += queue.send(bodies, kib_each=kib, delay=self.invocation.now - self.sim.now)


class _ModelS3:
    def __init__(self, drive: Drive) -> None:
        self.drive = drive

    def get_bucket_versioning(self, **_: Any) -> dict[str, Any]:
        self.drive.requests["GetBucketVersioning"] += 1
        self.drive.invocation.elapsed += self.drive.values.s3_list_median_ms / 1000 / 3
        return {}

    def head_bucket(self, **_: Any) -> dict[str, Any]:
        self.drive.requests["HeadBucket"] += 1
        return {}

    def list_multipart_uploads(self, **_: Any) -> dict[str, Any]:
        self.drive.requests["ListMultipartUploads"] += 1
        self.drive.invocation.elapsed += self.drive.values.s3_list_median_ms / 1000
        return {"Uploads": [], "IsTruncated": False}

    def _position(self, token: str | None) -> Position:
        if not token:
            return Position(0, 0)
        prefix, entry = token.split(":")
        return Position(int(prefix), int(entry))

    def _page(self, now: float, start: Position, limit: int, versions: bool) -> tuple[float, Any]:
        latency, runs, following = self.drive.s3.list_page(now, start, limit=limit, versions=versions)
        return latency, None if runs is None else (runs, following)

    def list_objects_v2(self, *, MaxKeys: int = 1000, ContinuationToken: str | None = None, Prefix: str = "",
                        **_: Any) -> dict[str, Any]:
        drive = self.drive
        start = self._position(ContinuationToken)
        runs, following = drive.s3_retrying(lambda now: self._page(now, start, MaxKeys, False), "ListObjectsV2")
        drive.invocation.add_client_cpu(drive.values.client_page_cpu_ms)
        contents = [{"Key": drive.bucket.key_of(p, e), "LastModified": OBJECTS_WRITTEN_AT, "Size": 1, "ETag": '"x"'}
                    for p, lo, hi in runs for e in range(lo, hi)]
        answer: dict[str, Any] = {"Contents": contents, "KeyCount": len(contents), "IsTruncated": following
                                  is not None}
        if following is not None:
            answer["NextContinuationToken"] = f"{following.prefix}:{following.entry}"
        return answer

    def list_object_versions(self, *, MaxKeys: int = 1000, **_: Any) -> dict[str, Any]:
        # The engine asks this only to check emptiness at the end (MaxKeys=1) of an unversioned purge.
        drive = self.drive
        runs, following = drive.s3_retrying(lambda now: self._page(now, Position(0, 0), MaxKeys, True),
                                            "ListObjectVersions")
        versions = [{"Key": drive.bucket.key_of(p, e), "VersionId": "null", "IsLatest": True,
                     "LastModified": OBJECTS_WRITTEN_AT, "Size": 1} for p, lo, hi in runs for e in range(lo, hi)]
        return {"Versions": versions, "IsTruncated": following is not None}

    def delete_objects(self, *, Delete: dict[str, Any], **_: Any) -> dict[str, Any]:
        drive = self.drive
        keys = [entry["Key"] for entry in Delete["Objects"]]
        runs = drive.key_runs(keys)
        drive.s3_retrying(lambda now: drive.s3.delete_objects(now, runs), "DeleteObjects")
        drive.invocation.add_client_cpu(drive.values.client_page_cpu_ms)
        return {"Deleted": [{"Key": key} for key in keys]}


def model_gateway_class() -> type:
    """``BucketGateway`` with its one attempt of one call answered by the model (imported late: the engine's
    modules read their settings when first imported)."""
    from eraser.storage.gateway import BucketGateway, S3Error

    class ModelGateway(BucketGateway):
        def __init__(self, drive: Drive, s3_bucket: str, owner: str, **kwargs: Any) -> None:
            super().__init__(None, s3_bucket, owner, **kwargs)
            self._model = _ModelS3(drive)

        def _attempt(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
            try:
                answer: dict[str, Any] = getattr(self._model, operation)(**arguments)
            except ClientError as error:
                raise S3Error.of(error) from error
            return answer

    return ModelGateway


class _Table:
    """A boto3 Table (moto's) behind the model's limits for the items the engine writes."""

    def __init__(self, drive: Drive, table: Any) -> None:
        self.drive = drive
        self.table = table
        self.name = table.name

    @staticmethod
    def item_name(key: dict[str, Any]) -> str:
        sk = str(key.get("sk", ""))
        return f"chunk#{key['pk']}/{sk}" if sk.startswith(("CHUNK#", "FAIL#")) else f"{key['pk']}/{sk}"

    def get_item(self, **arguments: Any) -> Any:
        drive = self.drive
        drive.requests["dynamodb:GetItem"] += 1
        item = self.item_name(arguments["Key"])
        return drive.ddb_call("GetItem", lambda now: drive.ddb.get(now, item), lambda: self.table.get_item(
            **arguments))

    def update_item(self, **arguments: Any) -> Any:
        drive = self.drive
        drive.requests["dynamodb:UpdateItem"] += 1
        item = self.item_name(arguments["Key"])
        units = max(1, round(drive.values.task_item_kib + 0.499))
        return drive.ddb_call("UpdateItem", lambda now: drive.ddb.update(now, item, units),
                              lambda: self.table.update_item(**arguments))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.table, name)
        if not callable(attribute):
            return attribute

        def call(**arguments: Any) -> Any:
            self.drive.requests[f"dynamodb:{name}"] += 1
            started = time.process_time()
            try:
                return attribute(**arguments)
            finally:
                self.drive.invocation.excluded_cpu += time.process_time() - started
                self.drive.invocation.elapsed += self.drive.values.ddb_update_median_ms / 1000

        return call


class _DynamoDBClient:
    def __init__(self, drive: Drive, client: Any) -> None:
        self.drive = drive
        self.client = client

    def transact_write_items(self, **arguments: Any) -> Any:
        drive = self.drive
        drive.requests["dynamodb:TransactWriteItems"] += 1
        items = []
        for entry in arguments["TransactItems"]:
            action = next(iter(entry.values()))
            key = action.get("Key") or {name: action["Item"][name] for name in ("pk", "sk")}
            plain = {name: next(iter(value.values())) for name, value in key.items()}
            units = drive.values.task_item_kib if plain.get("sk") == "TASK" else 1.0
            items.append((_Table.item_name(plain), max(1, round(units + 0.499))))
        return drive.ddb_call("TransactWriteItems", lambda now: drive.ddb.transact(now, items),
                              lambda: self.client.transact_write_items(**arguments))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class _ModelSQS:
    def __init__(self, drive: Drive) -> None:
        self.drive = drive

    def send_message(self, *, QueueUrl: str, MessageBody: str, **_: Any) -> dict[str, Any]:
        self.drive.requests["sqs:SendMessage"] += 1
        self.drive.send(QueueUrl, [MessageBody])
        return {"MessageId": "m"}

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self.drive.requests["sqs:SendMessageBatch"] += 1
        self.drive.send(QueueUrl, [entry["MessageBody"] for entry in Entries])
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}


def drive_engine(entries: int, prefixes: int, values: Values, seed: int = 7) -> dict[str, Any]:
    """Purge an unversioned bucket of ``entries`` keys with the real engine on the model; returns what happened."""
    from moto import mock_aws

    with mock_aws():
        return _drive(entries, prefixes, values, seed)


def _drive(entries: int, prefixes: int, values: Values, seed: int) -> dict[str, Any]:
    import boto3

    from eraser import aws, clock, config
    from eraser.tasks import engine, lister, model, repository, worker
    from eraser.tasks.model import TaskKind
    from eraser.tenancy import Bucket as TenancyBucket
    from eraser.tenancy import Organization, TenancyRepository
    from local.provision import function_environment, provision
    from local.template import load_template

    aws.reset_clients()
    config.settings.cache_clear()
    template = load_template()
    resolver = provision(boto3.session.Session(), stage="scale", template=template)
    saved = dict(os.environ)
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            os.environ.update(function_environment(resolver, template, name))
    config.settings.cache_clear()
    # Powertools flushes every 100 metrics and refuses to without a namespace (the template sets one).
    from eraser.observability import metrics
    metrics.namespace = metrics.namespace or "EraserScaleModel"
    rng = random.Random(seed)
    bucket = Bucket(entries, prefixes)
    s3 = S3Model(bucket, values, rng)
    sim = Simulator()
    drive = Drive(values, bucket, s3, sim, rng)
    real_table, real_client = aws.table, aws.dynamodb_client
    tables: dict[str, _Table] = {}
    from eraser.storage import gateway, retries

    originals = {name: getattr(aws, name) for name in ("sqs", "table", "dynamodb_client")}
    from eraser.storage.rate import PrefixRates

    original_open_bucket, original_wait, original_rates = gateway.open_bucket, retries.wait, worker.DELETE_RATES
    model_gateway = model_gateway_class()
    clocks = [clock, lister, engine, repository, model]
    saved_clocks = [module.utc_now for module in clocks]

    def virtual_now() -> datetime:
        return EPOCH + timedelta(seconds=drive.invocation.now)

    try:
        model_sqs = _ModelSQS(drive)
        client = _DynamoDBClient(drive, real_client())
        aws.sqs = lambda: model_sqs  # type: ignore[assignment]
        aws.dynamodb_client = lambda: client  # type: ignore[assignment]
        aws.table = lambda name: tables.setdefault(name, _Table(drive, real_table(name)))  # type: ignore[assignment]

        def open_model_bucket(s3_bucket: str, owner: str, *, deadline: Any = None, call_retry: Any = None,
                              client: Any = None) -> Any:
            return model_gateway(drive, s3_bucket, owner, deadline=deadline, call_retry=call_retry)

        def virtual_wait(seconds: float) -> None:
            drive.invocation.elapsed += seconds

        gateway.open_bucket = open_model_bucket  # type: ignore[assignment]
        retries.wait = virtual_wait  # type: ignore[assignment]
        # The worker's per-prefix rates (storage.rate) on the virtual clock; one module, so shared by every
        # invocation here where each Lambda instance would have its own.
        worker.DELETE_RATES = PrefixRates(clock=lambda: drive.invocation.now)
        for module in clocks:
            module.utc_now = virtual_now  # type: ignore[attr-defined]
        settings = config.settings()
        listing_name = settings.listing_queue_url.rsplit("/", 1)[-1]
        deletion_name = settings.deletion_queue_url.rsplit("/", 1)[-1]
        state: dict[str, Any] = {"task_id": None, "failed_messages": Counter()}
        cpu_factor = {"listing": max(1.0, values.lambda_mb_per_vcpu / values.listing_memory_mb),
                      "deletion": max(1.0, values.lambda_mb_per_vcpu / values.batch_delete_memory_mb)}

        def remaining_ms() -> int:
            return LISTING_TIMEOUT_MS - int(drive.invocation.elapsed * 1000)

        def run_invocation(kind: str, batch: list[Message]) -> Generator[Any, Any, list[Message]]:
            drive.invocation = Invocation(start=sim.now, cpu_factor=cpu_factor[kind])
            started = time.process_time()
            failed: list[Message] = []
            for message in batch:
                try:
                    if kind == "listing":
                        lister.run_listing_message(message.body, remaining_ms)
                    else:
                        worker.delete_chunk_message(message.body)
                except Exception as error:  # noqa: BLE001 - a failed record is redelivered, as Lambda does
                    state["failed_messages"][f"{kind}: {type(error).__name__}: {str(error)[:80]}"] += 1
                    failed.append(message)
            engine_cpu = max(0.0, time.process_time() - started - drive.invocation.excluded_cpu)
            yield drive.invocation.elapsed + engine_cpu * cpu_factor[kind]
            check_finished()
            return failed

        def check_finished() -> None:
            task = repository.TaskRepository().get(state["task_id"])
            if task.is_finished:
                state["finished"] = task
                sim.stop()

        def on_dead_letter(message: Message) -> None:
            state["dead_lettered"] = True
            sim.stop()

        listing_queue = Queue(sim, values, visibility_timeout=720.0, on_dead_letter=on_dead_letter)
        deletion_queue = Queue(sim, values, visibility_timeout=values.deletion_visibility_timeout_s,
                               on_dead_letter=on_dead_letter)
        drive.queues = {listing_name: listing_queue, deletion_name: deletion_queue}
        listing = EventSource(sim, values, listing_queue, lambda batch: run_invocation("listing", batch),
                              max_concurrency=int(values.listing_max_concurrency), batch_size=1)
        deleting = EventSource(sim, values, deletion_queue, lambda batch: run_invocation("deletion", batch),
                               max_concurrency=int(values.batch_delete_max_concurrency),
                               batch_size=int(values.batch_delete_batch_size))
        organization = Organization(id="org_scale0000000000", sub_domain="scale", account_id=ACCOUNT,
                                    created_at=EPOCH)
        TenancyRepository().put_organization(organization)
        target = TenancyBucket(id="bkt_scale0000000000", name="archive", organization_id=organization.id,
                               s3_bucket="eraser-scale-archive", created_at=EPOCH)
        TenancyRepository().put_bucket(target)
        task = engine.create_task(organization, TaskKind.PURGE_BUCKET, [target], "bench", exclusive=True)
        state["task_id"] = task.id
        listing.start()
        deleting.start()
        wall = time.perf_counter()
        sim.run()
        wall = time.perf_counter() - wall
        final = repository.TaskRepository().get(task.id)
    finally:
        for name, original in originals.items():
            setattr(aws, name, original)
        gateway.open_bucket = original_open_bucket  # type: ignore[assignment]
        retries.wait = original_wait  # type: ignore[assignment]
        worker.DELETE_RATES = original_rates
        for module, original in zip(clocks, saved_clocks, strict=True):
            module.utc_now = original  # type: ignore[attr-defined]
        os.environ.clear()
        os.environ.update(saved)
        config.settings.cache_clear()
        aws.reset_clients()
    n = entries / 1000
    s3_requests = {f"s3:{kind}": count for kind, count in s3.log.requests.items()}
    return {
        "entries": entries, "prefixes": prefixes, "status": final.status.value,
        "simulated_seconds": sim.now, "wall_seconds": round(wall, 1), "left": bucket.left,
        "counted_deleted": final.counts.deleted, "deleted_again": bucket.deleted_again,
        "exact": bucket.left == 0 and final.counts.deleted == entries,
        "requests": {**s3_requests, **drive.requests},
        "per_1000": {"list": sum(v for k, v in s3_requests.items() if "List" in k) / n,
                     "delete": s3.log.requests["DeleteObjects"] / n,
                     "sqs_sends": (drive.requests["sqs:SendMessage"] + drive.requests["sqs:SendMessageBatch"]) / n,
                     "ddb_writes": (drive.requests["dynamodb:UpdateItem"] + drive.requests["dynamodb:TransactWriteItems"]
                                    + drive.requests["dynamodb:PutItem"]) / n,
                     "ddb_reads": drive.requests["dynamodb:GetItem"] / n},
        "slowdowns": dict(s3.log.slowdowns), "dynamodb_conflicts": drive.ddb.conflicts,
        "failed_messages": dict(state["failed_messages"]),
        "dead_lettered": bool(state.get("dead_lettered")),
        "peak_batch_delete_concurrency": deleting.stats.peak_concurrency,
    }


def model_run(entries: int, prefixes: int, values: Values, seed: int = 7) -> dict[str, Any]:
    """The per-stage model of today's engine on the same bucket."""
    rng = random.Random(seed)
    bucket = Bucket(entries, prefixes)
    s3 = S3Model(bucket, values, rng)
    sim = Simulator()
    result = contenders.eraser(sim, s3, values, rng, False, contenders.TODAY)
    n = entries / 1000
    return {"simulated_seconds": result.seconds, "left": result.left, "exact": result.exact,
            "per_1000": {"list": sum(v for k, v in s3.log.requests.items() if "List" in k) / n,
                         "delete": s3.log.requests["DeleteObjects"] / n},
            "details": result.details, "bottleneck": result.bottleneck}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale.engine_drive", description=__doc__)
    parser.add_argument("--entries", default="10000,100000", help="comma-separated bucket sizes")
    parser.add_argument("--prefixes", type=int, default=100)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args(argv)
    values = Values({name: float(value) for name, value in (item.split("=", 1) for item in arguments.set)})
    rows = []
    for entries in (int(size) for size in arguments.entries.split(",")):
        real = drive_engine(entries, arguments.prefixes, values)
        modeled = model_run(entries, arguments.prefixes, values)
        rows.append({"entries": entries, "real_engine": real, "per_stage_model": modeled})
        print(json.dumps(rows[-1], indent=1, default=str), flush=True)
    output = arguments.output or Path(__file__).resolve().parent.parent / "results" / (
        f"scale-engine-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json")
    output.write_text(json.dumps({"parameters": values.as_dict(), "rows": rows}, indent=1, default=str) + "\n")
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
