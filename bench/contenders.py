"""The contenders. Each runs against a freshly populated bucket and reports how long it took; the harness checks
the bucket afterwards and counts the requests the backend saw.

Roles: ``eraser`` (the service through its HTTP API), ``peer`` (what users would otherwise run: the best peer of a
run is the bar Eraser must clear), ``limit`` (what the backend itself can do: listing alone, DeleteObjects of keys
known beforehand).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scenarios import Kind, Scenario
from bench.tools import ROOT, bench_tool, tool_missing

ERASER, PEER, LIMIT = "eraser", "peer", "limit"
# A peer tool sent through Eraser's S3 endpoint: neither the service's own contender nor a bar it must clear.
VIA_ERASER = "via-eraser"
# Longest a single contender run may take before it counts as failed (aws s3 rm manages ~200 objects/s).
RUN_TIMEOUT_SECONDS = 1800
# Above this many keys in a versioned bucket the 16-prefix worker is skipped (moto's memory, see not_applicable).
PARTITIONED_VERSIONED_MAX_KEYS = 5_000


@dataclass
class RunContext:
    scenario: Scenario
    bucket: str
    environment: dict[str, str]
    endpoint: str
    # Objects the contender must remove: {"Key": ..., "VersionId": ...} (versions only where they matter). For purge
    # contenders only ``limit`` ones may use them: the others have to find them.
    objects: list[dict[str, str]]
    workdir: Path


@dataclass
class Outcome:
    seconds: float
    error: str | None = None
    # Objects a listing-only contender saw (it deletes nothing).
    listed: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Contender:
    name = ""
    role = PEER
    # Objects the bucket is populated with, when the tool is too slow for the scenario's size (aws s3 rm).
    population_cap: int | None = None
    deletes = True

    def unavailable(self) -> str | None:
        """Why this contender cannot run on this machine, or None."""
        return None

    def unavailable_for(self, scenario: Scenario) -> str | None:
        """Why this contender cannot run this scenario on this tree (a missing piece), or None."""
        return None

    def not_applicable(self, scenario: Scenario) -> str | None:
        """Why this contender has no meaningful run in this scenario, or None."""
        return None

    def run(self, context: RunContext) -> Outcome:
        raise NotImplementedError

    def settle(self) -> None:
        """Called once the run's bucket is gone: wait for anything the contender left running."""


def run_process(command: list[str], environment: dict[str, str], workdir: Path) -> tuple[float, str | None, str]:
    """Run a tool, timing it as its user would (process start included). Returns seconds, error, stdout."""
    stderr_path = workdir / "stderr.txt"
    with open(stderr_path, "wb") as stderr, tempfile.TemporaryFile() as stdout:
        started = time.perf_counter()
        try:
            completed = subprocess.run(command, env=environment, stdout=stdout, stderr=stderr, cwd=ROOT,
                                       timeout=RUN_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - started, f"timed out after {RUN_TIMEOUT_SECONDS} s", ""
        seconds = time.perf_counter() - started
        stdout.seek(0)
        output = stdout.read().decode("utf-8", "replace")
    if completed.returncode != 0:
        lines = [line for line in stderr_path.read_text("utf-8", "replace").splitlines() if line.strip()]
        lines = lines or output.splitlines()
        return seconds, f"exit {completed.returncode}: {lines[-1][:300] if lines else ''}", output
    return seconds, None, output


# --- s5cmd ---------------------------------------------------------------------------------------------------------
class S5cmd(Contender):
    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self.name = "s5cmd" if workers is None else f"s5cmd --numworkers {workers}"

    def unavailable(self) -> str | None:
        return tool_missing("s5cmd")

    def _base(self, context: RunContext) -> list[str]:
        command = [str(bench_tool("s5cmd")), "--endpoint-url", context.endpoint, "--retry-count", "10"]
        if self.workers is not None:
            command += ["--numworkers", str(self.workers)]
        return command

    def run(self, context: RunContext) -> Outcome:
        if context.scenario.kind is Kind.BULK_KNOWN_KEYS:
            # rm takes many keys and sends them as DeleteObjects batches; argument lists stay well under ARG_MAX.
            total = 0.0
            keys = [entry["Key"] for entry in context.objects]
            for start in range(0, len(keys), 10_000):
                arguments = [f"s3://{context.bucket}/{key}" for key in keys[start:start + 10_000]]
                seconds, error, _ = run_process([*self._base(context), "rm", *arguments], context.environment,
                                                context.workdir)
                total += seconds
                if error:
                    return Outcome(total, error)
            return Outcome(total)
        command = [*self._base(context), "rm"]
        if context.scenario.versioned:
            command.append("--all-versions")
        seconds, error, _ = run_process([*command, f"s3://{context.bucket}/*"], context.environment, context.workdir)
        return Outcome(seconds, error)


# --- aws s3 rm -----------------------------------------------------------------------------------------------------
class AwsCliRm(Contender):
    name = "aws s3 rm --recursive"

    def __init__(self, population_cap: int | None) -> None:
        self.population_cap = population_cap

    def unavailable(self) -> str | None:
        return tool_missing("aws")

    def not_applicable(self, scenario: Scenario) -> str | None:
        if scenario.versioned:
            return "aws s3 rm deletes current versions only (adds delete markers)"
        if scenario.kind is Kind.BULK_KNOWN_KEYS:
            return "aws s3 has no multi-key delete"
        return None

    def run(self, context: RunContext) -> Outcome:
        command = [str(bench_tool("aws")), "--endpoint-url", context.endpoint, "s3", "rm",
                   f"s3://{context.bucket}", "--recursive", "--only-show-errors"]
        seconds, error, _ = run_process(command, context.environment, context.workdir)
        return Outcome(seconds, error)


# --- boto3 scripts (bench/worker.py in its own process) ------------------------------------------------------------
class Boto3Worker(Contender):
    """A boto3 script. ``purge_mode`` is what it does when it has to find the objects; handed the keys (the bulk
    scenario) every script deletes them in batches of 1000 with its own number of threads."""

    def __init__(self, name: str, purge_mode: str, role: str = PEER, workers: int = 1) -> None:
        self.name, self.purge_mode, self.role, self.workers = name, purge_mode, role, workers
        self.deletes = purge_mode != "list"

    def mode_for(self, scenario: Scenario) -> str:
        return "delete-known" if scenario.kind is Kind.BULK_KNOWN_KEYS else self.purge_mode

    def not_applicable(self, scenario: Scenario) -> str | None:
        if self.purge_mode == "list" and scenario.kind is Kind.BULK_KNOWN_KEYS:
            return "nothing to list: the keys are known"
        if self.purge_mode == "purge-listed-first" and not scenario.versioned:
            return "only differs from list + delete where versions are listed"
        if self.purge_mode == "purge-partitioned" and scenario.versioned and \
                scenario.size > PARTITIONED_VERSIONED_MAX_KEYS:
            return (f"over {PARTITIONED_VERSIONED_MAX_KEYS:,} versioned keys: moto deep-copies the bucket for each "
                    f"of the 16 concurrent ListObjectVersions calls (at 10,000 keys the bench reached 23 GB)")
        return None

    def run(self, context: RunContext) -> Outcome:
        mode = self.mode_for(context.scenario)
        command = [sys.executable, "-m", "bench.worker", mode, context.bucket, "--workers", str(self.workers)]
        if context.scenario.versioned:
            command.append("--versions")
        if mode == "delete-known":
            objects_file = context.workdir / "objects.json"
            objects_file.write_text(json.dumps(context.objects))
            command += ["--objects-file", str(objects_file)]
        _, error, output = run_process(command, context.environment, context.workdir)
        if error:
            return Outcome(0.0, error)
        report = json.loads(output.strip().splitlines()[-1])
        outcome = Outcome(float(report["seconds"]), detail={"errors": report["errors"]})
        if mode == "list":
            outcome.listed = int(report["objects"])
        return outcome


class DeleteKnownLimit(Boto3Worker):
    """DeleteObjects of keys known beforehand, 1000 per call, with the worker count the calibration found best."""

    def __init__(self, workers: int = 8) -> None:
        super().__init__("", "delete-known", LIMIT, workers)
        self.set_workers(workers)

    def mode_for(self, scenario: Scenario) -> str:
        return "delete-known"

    def set_workers(self, workers: int) -> None:
        self.workers = workers
        self.name = f"limit: DeleteObjects, known keys, {workers} workers"


def peer_environment(base: dict[str, str]) -> dict[str, str]:
    """The environment every tool runs in: the backend's endpoint and credentials, no user configuration."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(base)
    environment.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                        "PYTHONPATH": str(ROOT)})
    return environment
