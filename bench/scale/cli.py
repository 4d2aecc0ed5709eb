"""`python -m bench.scale` (`make bench-scale`): every contender on the model at each size, a table, and a JSON file
in bench/results/ (scale-<UTC time>.json).

Scenarios: an unversioned bucket over 100 prefixes, each a partition already (1M, 10M, 100M, 1B entries); the same
kind of bucket under one hot prefix that has not split (one partition, no split during the run); a versioned bucket
(two versions per key, a delete marker on every second key) of 100M entries.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.scale import contenders
from bench.scale.clock import Simulator
from bench.scale.contenders import DESIGN, TODAY, Result
from bench.scale.keyspace import Bucket
from bench.scale.parameters import Values, table_rows
from bench.scale.s3 import S3Model

RESULTS = Path(__file__).resolve().parent.parent / "results"
SIZES = (1_000_000, 10_000_000, 100_000_000, 1_000_000_000)
PREFIXES = 100
AWS_CLI_WINDOW = 100_000


@dataclass(frozen=True)
class Scenario:
    name: str
    entries: int
    prefixes: int
    versioned: bool = False
    partitioned: bool = True
    splits: bool = True


def scenarios(sizes: tuple[int, ...], hot_size: int, versioned_size: int) -> list[Scenario]:
    found = [Scenario(f"unversioned {size:,}", size, PREFIXES) for size in sizes]
    if hot_size:
        found.append(Scenario(f"one hot prefix {hot_size:,} (no split)", hot_size, 1, partitioned=False,
                              splits=False))
    if versioned_size:
        found.append(Scenario(f"versioned {versioned_size:,} entries", versioned_size, PREFIXES, versioned=True))
    return found


CONTENDERS = ("eraser-design", "eraser-today", "eraser-today-no-conflicts", "s5cmd", "boto3-1", "boto3-16", "aws-cli")


def run_one(scenario: Scenario, contender: str, values: Values, seed: int) -> Result:
    rng = random.Random(seed)
    overrides = values.as_dict()
    if not scenario.splits:
        overrides["s3_split_after_seconds"] = math.inf
    run_values = Values(overrides)
    bucket = Bucket(scenario.entries, scenario.prefixes, versioned=scenario.versioned)
    s3 = S3Model(bucket, run_values, rng, partitioned_prefixes=scenario.partitioned)
    sim = Simulator()
    started = time.perf_counter()
    if contender == "eraser-design":
        result = contenders.eraser(sim, s3, run_values, rng, scenario.versioned, DESIGN)
    elif contender == "eraser-today":
        result = contenders.eraser(sim, s3, run_values, rng, scenario.versioned, TODAY)
    elif contender == "eraser-today-no-conflicts":
        # Today's engine if DynamoDB never cancelled a write for a concurrent transaction (the model's largest
        # unknown): what its single listing chain alone allows.
        no_conflicts = Values({**overrides, "ddb_transact_hold_ms": 0})
        s3 = S3Model(bucket, no_conflicts, rng, partitioned_prefixes=scenario.partitioned)
        result = contenders.eraser(sim, s3, no_conflicts, rng, scenario.versioned,
                                   replace(TODAY, name="eraser (today, if DynamoDB never conflicts)"))
    elif contender == "s5cmd":
        result = contenders.s5cmd(sim, s3, run_values, rng, scenario.versioned)
    elif contender == "boto3-1":
        result = contenders.boto3_script(sim, s3, run_values, rng, scenario.versioned, 1)
    elif contender == "boto3-16":
        result = contenders.boto3_script(sim, s3, run_values, rng, scenario.versioned, 16)
    elif contender == "aws-cli":
        result = contenders.aws_s3_rm(sim, s3, run_values, rng, AWS_CLI_WINDOW)
    else:
        raise ValueError(contender)
    if not result.requests or contender != "aws-cli":
        result.requests = {**{f"s3:{kind}": count for kind, count in s3.log.requests.items()}, **result.requests}
    result.slowdowns = sum(s3.log.slowdowns.values())
    result.partitions_at_end = s3.partition_count
    if result.exact is None and result.extrapolated_from is None:
        result.exact = bucket.left == 0 and bucket.deleted_again == 0
    result.details.update({"simulator_events": sim.events, "wall_seconds": round(time.perf_counter() - started, 1),
                           "deleted_again": bucket.deleted_again, "splits": len(s3.splits)})
    return result


def per_thousand(result: Result) -> dict[str, float]:
    n = result.entries / 1000
    requests = result.requests
    lists = sum(v for k, v in requests.items() if k.startswith("s3:List"))
    deletes = requests.get("s3:DeleteObjects", 0) + requests.get("s3:DeleteObject", 0)
    return {"list": lists / n, "delete": deletes / n, "sqs": requests.get("sqs", 0) / n,
            "ddb_wru": requests.get("dynamodb_write_units", 0) / n, "ddb_rru": requests.get("dynamodb_read_units", 0) / n}


def dollars(result: Result, values: Values) -> float:
    requests = result.requests
    lists = sum(v for k, v in requests.items() if k.startswith("s3:List"))
    deletes = requests.get("s3:DeleteObjects", 0) + requests.get("s3:DeleteObject", 0)
    return (lists / 1000 * values.price_list_per_1000 + deletes / 1000 * values.price_delete_per_1000
            + requests.get("sqs", 0) / 1e6 * values.price_sqs_per_million
            + requests.get("dynamodb_write_units", 0) / 1e6 * values.price_ddb_write_per_million
            + requests.get("dynamodb_read_units", 0) / 1e6 * values.price_ddb_read_per_million
            + requests.get("lambda_invocations", 0) / 1e6 * values.price_lambda_per_million
            + requests.get("lambda_gb_seconds", 0) * values.price_lambda_gb_second)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "FAILED"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def table(rows: list[dict[str, Any]]) -> str:
    header = ("| scenario | contender | simulated time | keys/s | vs best peer | exact | bottleneck | LIST/1k | "
              "DELETE/1k | SQS/1k | DDB WRU/1k | USD |")
    lines = [header, "|" + "---|" * 12]
    for row in rows:
        ratio = f"{row['ratio_to_best_peer']:.1f}x" if row.get("ratio_to_best_peer") else "-"
        exact = {True: "yes", False: "NO", None: "-"}[row["exact"]]
        rate = f"{row['rate']:,.0f}" if row["rate"] else "-"
        note = " (extrapolated)" if row["extrapolated_from"] else ""
        lines.append(f"| {row['scenario']} | {row['contender']} | {duration(row['seconds'])}{note} | {rate} | "
                     f"{ratio} | {exact} | {row['bottleneck']} | {row['per_1000']['list']:.2f} | "
                     f"{row['per_1000']['delete']:.2f} | {row['per_1000']['sqs']:.2f} | "
                     f"{row['per_1000']['ddb_wru']:.2f} | {row['dollars']:,.2f} |")
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES),
                        help="comma-separated unversioned sizes (entries)")
    parser.add_argument("--hot-size", type=int, default=10_000_000, help="entries of the one-hot-prefix bucket "
                                                                         "(0: skip)")
    parser.add_argument("--versioned-size", type=int, default=100_000_000, help="entries of the versioned bucket "
                                                                                "(0: skip)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated subset of: "
                                                                            + ",".join(CONTENDERS))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--parameters", action="store_true", help="print the parameter table and exit")
    parser.add_argument("--output", type=Path, help="results JSON (default bench/results/scale-<UTC time>.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.parameters:
        print("| parameter | value | unit | source |\n|---|---|---|---|")
        for row in table_rows():
            print("| " + " | ".join(row) + " |")
        return 0
    overrides = {name: float(value) for name, value in (item.split("=", 1) for item in arguments.set)}
    values = Values(overrides)
    sizes = tuple(int(size) for size in arguments.sizes.split(",") if size)
    wanted = [name for name in arguments.contenders.split(",") if name]
    started = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for scenario in scenarios(sizes, arguments.hot_size, arguments.versioned_size):
        results = []
        for contender in wanted:
            if contender == "aws-cli" and scenario.versioned:
                continue  # aws s3 rm deletes current versions only
            result = run_one(scenario, contender, values, arguments.seed)
            results.append(result)
            print(f"  {scenario.name:<34} {result.contender:<48} {duration(result.seconds):>12} "
                  f"({result.details['wall_seconds']} s to simulate)", flush=True)
        peers = [r for r in results if not r.contender.startswith("eraser") and r.seconds and r.left == 0]
        best = min((r.seconds for r in peers if r.seconds), default=None)
        for result in results:
            rate = result.entries / result.seconds if result.seconds else None
            rows.append({"scenario": scenario.name, **asdict(result), "rate": rate,
                         "ratio_to_best_peer": best / result.seconds if best and result.seconds else None,
                         "per_1000": per_thousand(result), "dollars": dollars(result, values)})
    print()
    print(table(rows))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nsimulator peak resident memory: {peak_mb:,.0f} MB")
    output = arguments.output or RESULTS / f"scale-{started:%Y%m%dT%H%M%SZ}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"started_at": started.isoformat(timespec="seconds"),
                                  "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                  "arguments": {k: str(v) for k, v in vars(arguments).items()},
                                  "parameters": values.as_dict(), "simulator_peak_mb": peak_mb, "rows": rows},
                                 indent=1, default=str) + "\n")
    print(f"results: {output}")
    return 0
