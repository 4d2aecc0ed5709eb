"""`python -m bench.scale.calibration FILE...`: does the model predict what `make bench` measured here?

The embedded backend is one Python process (moto behind werkzeug): requests are served one at a time, each taking
the server CPU the bench measured for its operation, plus a per-call overhead outside that CPU (HTTP, the client's
parsing). Both are taken from the bench's *limit* contenders of the same file (listing alone; DeleteObjects of known
keys with one worker), never from the contender being predicted. The contenders (s5cmd, the boto3 scripts) then run
on that backend in the simulator with the same code as at scale (no S3 request limits: moto has none) and the
predicted time is compared with the measured median.

Eraser on the backend needs DynamoDB and SQS costs too, for which the bench has no limit contender: they are taken
from Eraser's own run (server CPU per operation), so for Eraser this checks the engine's structure (what runs in
series, what in parallel: the local stack's 4 workers per function, its queues), not its costs.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.scale import contenders
from bench.scale.clock import Simulator
from bench.scale.keyspace import Bucket, Position, Run
from bench.scale.parameters import Values
from bench.scale.s3 import S3Model
from bench.scale.services import DynamoDBModel

UNLIMITED = {"s3_delete_per_partition": 1e12, "s3_read_per_partition": 1e12, "s3_split_after_seconds": 1e12}
# The local stack's runner: at most 4 workers per function (local/runner.py), already warm (the bench warms them).
LOCAL_STACK = {"batch_delete_max_concurrency": 4, "listing_max_concurrency": 4, "lambda_initial_concurrency": 4,
               "cold_start_ms": 0, "ddb_transact_hold_ms": 0, "lambda_mb_per_vcpu": 1, "sqs_poll_gap_ms": 5}
# The bench polls the task every 0.25 s: on average the end is seen half a poll late.
POLL_HALF_SECONDS = 0.125


class SingleServer:
    """One request at a time, first come first served."""

    def __init__(self) -> None:
        self.busy_until = 0.0

    def serve(self, now: float, seconds: float) -> float:
        start = max(now, self.busy_until)
        self.busy_until = start + seconds
        return self.busy_until - now


class BackendS3(S3Model):
    def __init__(self, bucket: Bucket, values: Values, server: SingleServer, costs: dict[str, float]) -> None:
        super().__init__(bucket, values, random.Random(0), partitioned_prefixes=False)
        self.server = server
        self.costs = costs

    def _latency(self, now: float, operation: str) -> float:
        cpu = self.costs[f"cpu:{operation}"]
        if "List" in operation:
            # moto sorts every key of the bucket for each page (docs/performance.md: its listing cost grows with
            # the bucket), so a page costs in proportion to the entries left, as measured on the full bucket.
            cpu *= (self.bucket.total - self.bucket.deleted) / self.costs["entries_measured"]
        return self.server.serve(now, cpu) + self.costs.get(f"overhead:{operation}", 0.0)

    def list_page(self, now: float, start: Position, **kwargs: Any) -> tuple[float, list[Run] | None,
                                                                             Position | None]:
        _, runs, following = super().list_page(now, start, **kwargs)
        operation = "s3:ListObjectVersions" if kwargs.get("versions") else "s3:ListObjectsV2"
        return self._latency(now, operation), runs, following

    def delete_objects(self, now: float, runs: list[Run]) -> tuple[float, int | None]:
        _, fresh = super().delete_objects(now, runs)
        return self._latency(now, "s3:DeleteObjects"), fresh


class BackendDynamoDB(DynamoDBModel):
    def __init__(self, values: Values, server: SingleServer, costs: dict[str, float]) -> None:
        super().__init__(values, random.Random(0))
        self.server = server
        self.costs = costs

    def get(self, now: float, item: str, units: float = 1.0) -> float:
        super().get(now, item, units)
        return self.server.serve(now, self.costs.get("cpu:dynamodb:GetItem", 0.004))

    def update(self, now: float, item: str, units: float) -> float:
        super().update(now, item, units)
        return self.server.serve(now, self.costs.get("cpu:dynamodb:UpdateItem", 0.008))

    def transact(self, now: float, items: list[tuple[str, float]]) -> float:
        super().transact(now, items)
        return self.server.serve(now, self.costs.get("cpu:dynamodb:TransactWriteItems", 0.006))


def _records(document: dict[str, Any], scenario: str, contender: str) -> list[dict[str, Any]]:
    return [record for record in document["records"] if record["scenario"] == scenario
            and record["contender"].startswith(contender) and record["run"] >= 0 and not record.get("error")]


def _per_call(records: list[dict[str, Any]], operation: str) -> float:
    return statistics.median(record["server_cpu"].get(operation, 0.0) / record["requests"][operation]
                             for record in records if record["requests"].get(operation))


def backend_costs(document: dict[str, Any], scenario: str, list_operation: str) -> dict[str, float]:
    """Per-call server CPU and overhead from the limit contenders of this file."""
    values = Values()
    listing = _records(document, scenario, "limit: listing alone")
    deleting = _records(document, scenario, "limit: DeleteObjects")
    costs: dict[str, float] = {}
    costs[f"cpu:{list_operation}"] = _per_call(listing, list_operation)
    costs["entries_measured"] = float(listing[0]["objects"])
    pages = statistics.median(record["requests"][list_operation] for record in listing)
    list_wall = statistics.median(record["seconds"] for record in listing) / pages
    # The listing worker parses each page itself (client_page_cpu_ms): the rest of the wall time is overhead.
    costs[f"overhead:{list_operation}"] = max(0.0, list_wall - costs[f"cpu:{list_operation}"])
    costs["cpu:s3:DeleteObjects"] = _per_call(deleting, "s3:DeleteObjects")
    one_worker = [point for point in document.get("calibration", {}).get(scenario, []) if point["workers"] == 1]
    calls = statistics.median(record["requests"]["s3:DeleteObjects"] for record in deleting)
    if one_worker:
        delete_wall = one_worker[0]["seconds"] / calls
        costs["overhead:s3:DeleteObjects"] = max(0.0, delete_wall - costs["cpu:s3:DeleteObjects"])
    costs["client_page_cpu_s"] = values.client_page_cpu_ms / 1000
    return costs


def predict(document: dict[str, Any], scenario_name: str = "purge-unversioned") -> list[dict[str, Any]]:
    scenario = next(item for item in document["scenarios"] if item["name"] == scenario_name)
    versioned = scenario["kind"] == "purge-versioned"
    list_operation = "s3:ListObjectVersions" if versioned else "s3:ListObjectsV2"
    costs = backend_costs(document, scenario_name, list_operation)
    rows = []
    # The bench's keys start with a hex digit: 16 prefixes of equal size.
    for contender, label in (("s5cmd", "s5cmd"), ("boto3-1", "boto3 list + DeleteObjects, 1 thread"),
                             ("boto3-16", "boto3 16-prefix partitioned"), ("eraser", "eraser (HTTP API")):
        records = _records(document, scenario_name, label)
        records = [record for record in records if record["contender"] == label or contender == "eraser"
                   or (contender == "s5cmd" and record["contender"] == "s5cmd")]
        if not records:
            continue
        measured = statistics.median(record["seconds"] for record in records)
        entries = records[0]["objects"]
        server = SingleServer()
        values = Values({**UNLIMITED, **({"client_page_cpu_ms": 0.0} if contender == "s5cmd" else {})})
        bucket = Bucket(entries, 16, versioned=versioned)
        s3 = BackendS3(bucket, values, server, costs)
        sim = Simulator()
        rng = random.Random(1)
        if contender == "s5cmd":
            contenders.s5cmd(sim, s3, values, rng, versioned)
            predicted = sim.now
            basis = "limit contenders"
        elif contender == "boto3-1":
            contenders.boto3_script(sim, s3, values, rng, versioned, 1)
            predicted = sim.now
            basis = "limit contenders"
        elif contender == "boto3-16":
            contenders.boto3_script(sim, s3, values, rng, versioned, 16)
            predicted = sim.now
            basis = "limit contenders"
        else:
            eraser_costs = dict(costs)
            for operation in ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:TransactWriteItems",
                              "sqs:SendMessageBatch"):
                eraser_costs[f"cpu:{operation}"] = _per_call(records, operation)
            local = Values({**UNLIMITED, **LOCAL_STACK,
                            "sqs_send_median_ms": eraser_costs["cpu:sqs:SendMessageBatch"] * 1000})
            ddb = BackendDynamoDB(local, server, eraser_costs)
            design = replace(contenders.TODAY, batch_delete_max_concurrency=4, listing_max_concurrency=4)
            result = contenders.eraser(sim, s3, local, rng, versioned, design, ddb=ddb)
            predicted = (result.seconds or sim.now) + POLL_HALF_SECONDS
            basis = "limit contenders + Eraser's own DynamoDB/SQS costs"
        rows.append({"scenario": scenario_name, "contender": records[0]["contender"], "entries": entries,
                     "measured_s": round(measured, 3), "predicted_s": round(predicted, 3),
                     "error": round(predicted / measured - 1, 3), "costs_from": basis})
    return rows


def main(argv: list[str] | None = None) -> int:
    paths = [Path(path) for path in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print("usage: python -m bench.scale.calibration bench/results/<file>.json ...", file=sys.stderr)
        return 2
    print("| results file | contender | entries | measured s | predicted s | error | costs from |")
    print("|---|---|---|---|---|---|---|")
    everything = []
    for path in paths:
        document = json.loads(path.read_text())
        for row in predict(document):
            everything.append({"file": path.name, **row})
            print(f"| {path.name} | {row['contender']} | {row['entries']:,} | {row['measured_s']:.2f} | "
                  f"{row['predicted_s']:.2f} | {row['error']:+.0%} | {row['costs_from']} |")
    print(json.dumps(everything))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
