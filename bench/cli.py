"""`python -m bench [--smoke]`: every scenario, every contender, interleaved, medians of several runs."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import coldstart, report
from bench.backend import EmbeddedBackend, free_port
from bench.contenders import (
    ERASER,
    LIMIT,
    PEER,
    AwsCliRm,
    Boto3Worker,
    Contender,
    DeleteKnownLimit,
    RunContext,
    S5cmd,
    peer_environment,
)
from bench.counting import difference
from bench.eraser_stack import EraserApi, LocalStack, S5cmdThroughEraser, missing_functions
from bench.scenarios import Kind, Scenario, default_scenarios, keys_for
from bench.tools import ROOT, SAM_PYTHON, ensure_bench_venv

RESULTS = ROOT / "bench" / "results"
TASKS_TABLE_MARKER = "deletion-tasks"
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
SQS_COUNTED = {"SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch"}
MONITORED_FUNCTIONS = ("BatchDeleteFunction", "ListingFunction")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run: every available contender (CI)")
    parser.add_argument("--runs", type=int, help="runs per contender and scenario (default 3, smoke 1)")
    parser.add_argument("--purge-objects", type=int, help="unversioned purge size (default 100000)")
    parser.add_argument("--versioned-keys", type=int, help="versioned purge keys (default 10000)")
    parser.add_argument("--bulk-keys", type=int, help="bulk delete keys (default 10000)")
    parser.add_argument("--aws-cli-objects", type=int,
                        help="objects aws s3 rm gets (default 3000: at ~200/s the full size would take minutes)")
    parser.add_argument("--high-workers", type=int, default=1024, help="s5cmd's high worker count")
    parser.add_argument("--scenarios", help="comma-separated subset of: purge-unversioned,purge-versioned,"
                                            "bulk-known-keys")
    parser.add_argument("--only", help="comma-separated substrings: run only contenders whose name matches")
    parser.add_argument("--no-eraser", action="store_true", help="skip the local stack (peers only)")
    parser.add_argument("--no-coldstart", action="store_true")
    parser.add_argument("--output", type=Path, help="results JSON (default bench/results/<UTC time>.json)")
    parser.add_argument("--stall-seconds", type=float,
                        help="fail an Eraser task whose progress has not moved for this long (default 120, smoke 30)")
    parser.add_argument("--eraser-timeout", type=float,
                        help="cancel an Eraser task that has not finished after this long (default 900, smoke 120)")
    parser.add_argument("--keep-going", action="store_true", help="exit 0 even if a contender failed")
    arguments = parser.parse_args(argv)
    smoke = arguments.smoke
    arguments.runs = arguments.runs or (1 if smoke else 3)
    arguments.purge_objects = arguments.purge_objects or (300 if smoke else 100_000)
    arguments.versioned_keys = arguments.versioned_keys or (100 if smoke else 10_000)
    arguments.bulk_keys = arguments.bulk_keys or (300 if smoke else 10_000)
    arguments.aws_cli_objects = arguments.aws_cli_objects or (300 if smoke else 3_000)
    arguments.stall_seconds = arguments.stall_seconds or (30.0 if smoke else 120.0)
    arguments.eraser_timeout = arguments.eraser_timeout or (120.0 if smoke else 900.0)
    if smoke:
        arguments.high_workers = min(arguments.high_workers, 64)
    return arguments


def machine_description() -> dict[str, Any]:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    memory_kb = 0
    try:
        memory_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                             if line.startswith("MemTotal")))
    except (OSError, StopIteration, ValueError):
        pass
    import moto

    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_gib": round(memory_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform(), "moto": moto.__version__}


class Harness:
    def __init__(self, arguments: argparse.Namespace, backend: EmbeddedBackend) -> None:
        self.arguments = arguments
        self.backend = backend
        self.environment = peer_environment(backend.client_environment())
        self.records: list[report.Record] = []
        self.notes: dict[tuple[str, str], str] = {}
        self.skipped: list[dict[str, str]] = []
        self.calibration: dict[str, list[dict[str, float]]] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="eraser-bench-"))
        self._bucket_serial = 0

    # --- one run of one contender ------------------------------------------------------------------------------------
    def _bucket_name(self, scenario: Scenario) -> str:
        self._bucket_serial += 1
        return f"eraser-bench-{scenario.name}-{self._bucket_serial:04d}"[:63]

    def populate(self, scenario: Scenario, bucket: str, size: int) -> tuple[list[dict[str, str]], set[str]]:
        """Create and fill the bucket; returns what must be deleted (keys, with version ids where versioned) and the
        keys that must survive."""
        backend = self.backend
        backend.create_bucket(bucket, versioned=scenario.versioned)
        if scenario.kind is Kind.PURGE:
            keys = keys_for(size)
            backend.put_objects(bucket, keys)
            return [{"Key": key} for key in keys], set()
        if scenario.kind is Kind.PURGE_VERSIONED:
            backend.put_versions(bucket, keys_for(size))
            return [{"Key": key, "VersionId": version} for key, version in backend.versions(bucket)], set()
        doomed, kept = keys_for(size, "del"), keys_for(size, "keep")
        backend.put_objects(bucket, doomed + kept)
        return [{"Key": key} for key in doomed], set(kept)

    def run_one(self, scenario: Scenario, contender: Contender, run: int, size: int | None = None) -> report.Record:
        size = size or min(scenario.size, contender.population_cap or scenario.size)
        bucket = self._bucket_name(scenario)
        objects, survivors = self.populate(scenario, bucket, size)
        expected = len(objects)
        workdir = self.workdir / bucket
        workdir.mkdir(parents=True, exist_ok=True)
        context = RunContext(scenario=scenario, bucket=bucket, environment=self.environment,
                             endpoint=self.backend.url, objects=objects, workdir=workdir)
        before = self.backend.ledger.snapshot()
        try:
            outcome = contender.run(context)
        except Exception as exception:  # noqa: BLE001 - one broken contender must not end the bench
            from bench.contenders import Outcome

            outcome = Outcome(0.0, f"{type(exception).__name__}: {exception}"[:300])
        after = self.backend.ledger.snapshot()
        # Let in-flight requests of a tool that exited early settle before the bucket is inspected.
        requests, items = self.request_summary(difference(after[0], before[0]), difference(after[1], before[1]),
                                               bucket)
        server_cpu = self.server_cpu_summary(difference(after[2], before[2]))
        left: int | None
        wrongly = 0
        error = outcome.error
        if not contender.deletes:
            left = None
            if outcome.listed is not None and outcome.listed != expected and not error:
                error = f"listed {outcome.listed} of {expected}"
        elif scenario.kind is Kind.BULK_KNOWN_KEYS:
            remaining = self.backend.remaining(bucket)
            left = len(remaining - survivors)
            wrongly = len(survivors - remaining)
        else:
            left = self.backend.remaining_entries(bucket)
        self.backend.drop_bucket(bucket)
        contender.settle()
        shutil.rmtree(workdir, ignore_errors=True)
        record = report.Record(scenario=scenario.name, contender=contender.name, role=contender.role, run=run,
                               objects=expected, seconds=outcome.seconds, left=left, wrongly_deleted=wrongly,
                               listed=outcome.listed, error=error, requests=requests, deleted_keys_in_calls=items,
                               server_cpu=server_cpu)
        self.records.append(record)
        self._print_record(record)
        return record

    @staticmethod
    def request_summary(requests: Counter[tuple[str, str, str]], items: Counter[tuple[str, str, str]],
                        bucket: str) -> tuple[dict[str, int], int]:
        summary: Counter[str] = Counter()
        for (service, name, resource), count in requests.items():
            if service == "s3" and resource == bucket:
                summary[f"s3:{name}"] += count
            elif service == "dynamodb":
                # Reads too: on this one-process backend every GetItem takes server time from the S3 work.
                summary[f"dynamodb:{name}"] += count
                if name in DYNAMODB_WRITES and TASKS_TABLE_MARKER in resource:
                    summary["tasks:writes"] += count
            elif service == "sqs" and name in SQS_COUNTED:
                summary[f"sqs:{name}"] += count
        keys = sum(count for (service, name, resource), count in items.items()
                   if service == "s3" and name == "DeleteObjects" and resource == bucket)
        return dict(summary), keys

    @staticmethod
    def server_cpu_summary(seconds: Mapping[tuple[str, str, str], float]) -> dict[str, float]:
        """The server's CPU seconds by "service:Operation", over every bucket, table and queue (for Eraser, its
        bookkeeping in DynamoDB and SQS belongs to its run as much as its S3 calls do)."""
        summary: dict[str, float] = {}
        for (service, name, _resource), value in seconds.items():
            summary[f"{service}:{name}"] = summary.get(f"{service}:{name}", 0.0) + value
        return {operation: round(value, 6) for operation, value in sorted(summary.items()) if round(value, 6) > 0}

    @staticmethod
    def _print_record(record: report.Record) -> None:
        rate = f"{record.rate:,.0f}/s" if record.rate else "-"
        state = f"ERROR {record.error}" if record.error else f"left {record.left}" if record.left is not None else \
            f"listed {record.listed}"
        run = "cal" if record.run < 0 else f"run {record.run + 1}"
        print(f"  {run:<6} {record.contender:<42} {record.objects:>8,} objects "
              f"{record.seconds:>8.2f} s {rate:>10}  {state}", flush=True)

    # --- scenarios ---------------------------------------------------------------------------------------------------
    def calibrate(self, scenario: Scenario, limit: DeleteKnownLimit) -> None:
        """The worker count at which DeleteObjects of known keys is fastest on this machine (the backend's limit)."""
        sweep = (1, 4) if self.arguments.smoke else (1, 2, 4, 8, 16)
        size = min(scenario.size, 300 if self.arguments.smoke else 20_000)
        results = []
        for workers in sweep:
            limit.set_workers(workers)
            record = self.run_one(scenario, limit, run=-1, size=size)
            self.records.remove(record)
            results.append({"workers": workers, "objects": record.objects, "seconds": record.seconds,
                            "rate": record.rate})
        best = max(results, key=lambda result: result["rate"])
        limit.set_workers(int(best["workers"]))
        self.calibration[scenario.name] = results
        print(f"  calibration: DeleteObjects of known keys is fastest with {best['workers']} workers", flush=True)

    def run_scenario(self, scenario: Scenario, contenders: list[Contender]) -> None:
        print(f"\n== {scenario.name}: {scenario.description}", flush=True)
        active: list[Contender] = []
        for contender in contenders:
            unavailable = contender.unavailable() or contender.unavailable_for(scenario)
            reason = unavailable or contender.not_applicable(scenario)
            if reason:
                self.skipped.append({"scenario": scenario.name, "contender": contender.name, "reason": reason,
                                     "kind": "unavailable" if unavailable else "not applicable"})
                if contender.role == ERASER:
                    self.notes[(scenario.name, contender.name)] = reason
                print(f"  skipped {contender.name}: {reason}", flush=True)
                continue
            active.append(contender)
            if contender.population_cap and contender.population_cap < scenario.size:
                self.notes[(scenario.name, contender.name)] = f"on {contender.population_cap:,} objects (slow)"
        for contender in active:
            if isinstance(contender, DeleteKnownLimit):
                self.calibrate(scenario, contender)
        for run in range(self.arguments.runs):
            # Rotate the order so that no contender always runs first (or right after the heaviest one).
            shift = run % len(active) if active else 0
            for contender in active[shift:] + active[:shift]:
                self.run_one(scenario, contender, run)


def build_contenders(arguments: argparse.Namespace, eraser: EraserApi) -> list[Contender]:
    contenders: list[Contender] = [
        eraser,
        S5cmd(),
        S5cmd(arguments.high_workers),
        S5cmdThroughEraser(eraser),
        AwsCliRm(arguments.aws_cli_objects),
        Boto3Worker("boto3 list + DeleteObjects, 1 thread", "purge", PEER, workers=1),
        Boto3Worker("boto3 16-prefix partitioned", "purge-partitioned", PEER, workers=16),
        Boto3Worker("boto3 list all, then DeleteObjects", "purge-listed-first", PEER, workers=1),
        Boto3Worker("limit: listing alone", "list", LIMIT),
        DeleteKnownLimit(),
    ]
    if arguments.only:
        wanted = [part.strip() for part in arguments.only.split(",") if part.strip()]
        contenders = [c for c in contenders if any(part in c.name for part in wanted)]
    return contenders


def start_eraser(arguments: argparse.Namespace, backend: EmbeddedBackend) -> tuple[EraserApi, LocalStack | None]:
    if arguments.no_eraser:
        return EraserApi(None, "--no-eraser"), None
    missing = missing_functions()
    if missing_functions(Kind.BULK_KNOWN_KEYS) and missing_functions(Kind.PURGE):
        return EraserApi(None, "engine not in this tree yet: " + ", ".join(missing)), None
    if not SAM_PYTHON.exists():
        return EraserApi(None, f"{SAM_PYTHON.relative_to(ROOT)} missing (make venv)"), None
    stack = LocalStack(backend.url, peer_environment(backend.client_environment()))
    print("bench: starting the local stack on the bench's backend ...", flush=True)
    try:
        stack.start(free_port())
    except RuntimeError as error:
        stack.stop()
        return EraserApi(None, f"local stack failed: {error}"[:400]), None
    # The bench registers its buckets in the stack's tables, through the domain package, like the admin command.
    from eraser import aws, config

    os.environ.update({key: str(value) for key, value in stack.state.get("environment", {}).items()})
    os.environ["AWS_ENDPOINT_URL"] = backend.url
    config.settings.cache_clear()
    aws.reset_clients()
    print(f"bench: local stack at {stack.url}; warming its functions up", flush=True)
    eraser = EraserApi(stack, stall_seconds=arguments.stall_seconds, timeout_seconds=arguments.eraser_timeout)
    eraser.warm_up(backend)
    return eraser, stack


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    # Run the finally blocks: the local stack and its workers are in a session of their own.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = datetime.now(UTC)
    scenarios = default_scenarios(arguments.purge_objects, arguments.versioned_keys, arguments.bulk_keys)
    if arguments.scenarios:
        wanted = {name.strip() for name in arguments.scenarios.split(",")}
        scenarios = [scenario for scenario in scenarios if scenario.name in wanted]
    tools_problem = ensure_bench_venv()
    if tools_problem:
        print(f"bench: {tools_problem}; the peer tools are skipped", flush=True)

    backend = EmbeddedBackend()
    backend.start()
    os.environ.update(backend.client_environment())
    backend.reset()
    print(f"bench: embedded backend (moto's server, in this process) at {backend.url}", flush=True)
    stack: LocalStack | None = None
    harness = Harness(arguments, backend)
    memory: dict[str, float | None] = {}
    try:
        eraser, stack = start_eraser(arguments, backend)
        contenders = build_contenders(arguments, eraser)
        for scenario in scenarios:
            harness.run_scenario(scenario, contenders)
        if stack:
            memory = {function: stack.function_peak_memory_mb(function) for function in MONITORED_FUNCTIONS}
        tasks = eraser.tasks
    finally:
        if stack:
            stack.stop()
        backend.stop()

    imports = [] if arguments.no_coldstart else coldstart.measure_all(
        {**peer_environment(backend.client_environment()), "POWERTOOLS_TRACE_DISABLED": "true"},
        repeats=1 if arguments.smoke else 3, warm=not arguments.smoke)
    return finish(arguments, started, scenarios, harness, memory, imports, tasks, tools_problem)


def finish(arguments: argparse.Namespace, started: datetime, scenarios: list[Scenario], harness: Harness,
           memory: dict[str, float | None], imports: list[coldstart.ImportTime], tasks: list[dict[str, Any]],
           tools_problem: str | None) -> int:
    summaries = report.summarize(harness.records, harness.notes)
    all_verdicts: list[report.Verdict] = []
    print()
    for scenario in scenarios:
        print(f"== {scenario.name}: {scenario.description} (median of {arguments.runs} run(s))")
        print(report.table(summaries, scenario.name,
                           [(entry["contender"], entry["reason"]) for entry in harness.skipped
                            if entry["scenario"] == scenario.name]))
        server_cpu = report.server_cpu_block(summaries, scenario.name)
        if server_cpu:
            print(server_cpu)
        wins, compared = report.per_run_wins(harness.records, scenario.name)
        found = report.verdicts(summaries, scenario.name, scenario.kind.value, scenario.deleted_count,
                                unavailable=harness.notes.get((scenario.name, EraserApi.name)))
        if compared and scenario.kind is not Kind.BULK_KNOWN_KEYS:
            found.append(report.Verdict(f"{scenario.name}: Eraser >= that run's best peer, per run", wins == compared,
                                        f"{wins} of {compared} runs"))
        all_verdicts += found
        print(report.verdict_lines(found))
        print()
    batch_peak = memory.get("BatchDeleteFunction")
    if memory:
        print("peak resident memory of the local stack's workers (VmHWM): " +
              ", ".join(f"{name} {value:.0f} MB" if value else f"{name} -" for name, value in memory.items()))
        memory_verdict = report.Verdict(f"batch-delete worker peak memory <= {report.WORKER_MEMORY_MB} MB",
                                        None if batch_peak is None else batch_peak <= report.WORKER_MEMORY_MB,
                                        f"{batch_peak:.0f} MB" if batch_peak else "no worker seen")
        all_verdicts.append(memory_verdict)
        print(report.verdict_lines([memory_verdict]))
    if imports:
        print("\ncold start: import time of each handler module in a fresh interpreter (python -X importtime)")
        print(coldstart.table(imports))
    for skipped in harness.skipped:
        print(f"skipped: {skipped['scenario']}: {skipped['contender']}: {skipped['reason']}")

    output = arguments.output or RESULTS / (f"smoke-{started:%Y%m%dT%H%M%SZ}.json.tmp" if arguments.smoke
                                            else f"{started:%Y%m%dT%H%M%SZ}.json")
    document = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": arguments.smoke, "runs": arguments.runs,
        "machine": machine_description(),
        "arguments": {key: (str(value) if isinstance(value, Path) else value)
                      for key, value in vars(arguments).items()},
        "scenarios": [{**asdict(scenario), "kind": scenario.kind.value, "deleted_count": scenario.deleted_count}
                      for scenario in scenarios],
        "summaries": [summary.as_dict() for summary in summaries],
        "verdicts": [verdict.as_dict() for verdict in all_verdicts],
        "records": [asdict(record) for record in harness.records],
        "calibration": harness.calibration,
        "notes": {f"{scenario}\t{contender}": note for (scenario, contender), note in harness.notes.items()},
        "skipped": harness.skipped,
        "peer_tools": tools_problem or "ok",
        "worker_peak_memory_mb": memory,
        "import_times": [asdict(result) for result in imports],
        "eraser_tasks": tasks,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=1, default=str) + "\n")
    elapsed = (datetime.now(UTC) - started).total_seconds()
    print(f"\nresults: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output} "
          f"(the bench took {elapsed:.0f} s)")
    return exit_status(arguments, harness.records, harness.skipped)


def exit_status(arguments: argparse.Namespace, records: list[report.Record], skipped: list[dict[str, str]]) -> int:
    """Non-zero when a contender that must work did not: an error, or the wrong objects gone. Missed performance
    targets never fail the command (the table says so); a peer tool that cannot be installed is skipped."""
    broken = [record for record in records
              if record.error or record.wrongly_deleted or (record.left and record.role != PEER)]
    must_run = [entry for entry in skipped if entry["kind"] == "unavailable"
                and entry["contender"].startswith(("boto3", "limit"))]
    eraser_skipped = [entry for entry in skipped if entry["contender"].startswith("eraser")
                      and not entry["reason"].startswith(("engine not in this tree", "--no-eraser"))]
    for record in broken:
        print(f"FAILED: {record.scenario}: {record.contender}: {record.error or f'{record.left} left'}",
              file=sys.stderr)
    for entry in must_run + eraser_skipped:
        print(f"FAILED: {entry['scenario']}: {entry['contender']} did not run: {entry['reason']}", file=sys.stderr)
    if arguments.keep_going:
        return 0
    return 1 if broken or must_run or eraser_skipped else 0


if __name__ == "__main__":
    raise SystemExit(main())

