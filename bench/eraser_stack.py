"""Eraser as a contender: the local stack (`python -m local.run`, the same thing `make run` starts) pointed at the
bench's moto server, driven through its HTTP API like a user would: create the task, poll it to the end.

The stack runs each function in warm worker processes of its own, so the bench can read the batch-delete workers'
peak resident memory (``VmHWM``) from /proc, as Lambda's "Max Memory Used" reports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.contenders import ERASER, VIA_ERASER, Contender, Outcome, RunContext, S5cmd, run_process
from bench.scenarios import Kind, Scenario
from bench.tools import ROOT, SAM_PYTHON

TERMINAL_STATUSES = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED", "CANCELLED"}
FAILED_STATUSES = {"FAILED", "CANCELED", "CANCELLED", "COMPLETED_WITH_ERRORS"}
# How often the bench polls a task; a user honouring Retry-After polls less often, so this flatters nobody.
POLL_SECONDS = 0.25
STARTUP_SECONDS = 180
# The bulk endpoint's documented limit per request, and how many requests a client keeps in flight: the local
# stack's default concurrency per function (ERASER_LOCAL_MAX_CONCURRENCY).
BULK_REQUEST_KEYS = 1000
BULK_CLIENT_CONCURRENCY = int(os.environ.get("ERASER_LOCAL_MAX_CONCURRENCY", "4"))
TASK_TIMEOUT_SECONDS = 1800
# What each scenario needs of the engine, by the function directory that serves it.
PURGE_FUNCTIONS = {"purge_bucket": "DELETE /storage/obj/{bucket}/purge", "get_task": "GET /v1/tasks/{id}",
                   "listing": "the listing worker", "batch_delete": "the batch-delete worker"}
BULK_FUNCTIONS = {"bulk_delete": "DELETE /v1/storage/objects"}


def missing_functions(kind: Kind | None = None) -> list[str]:
    """Functions a scenario of ``kind`` needs that this tree does not have yet (any kind: all of them)."""
    needed = {Kind.PURGE: PURGE_FUNCTIONS, Kind.PURGE_VERSIONED: PURGE_FUNCTIONS, Kind.BULK_KNOWN_KEYS: BULK_FUNCTIONS,
              None: {**PURGE_FUNCTIONS, **BULK_FUNCTIONS}}[kind]
    return [f"{name} ({route})" for name, route in needed.items()
            if not (ROOT / "functions" / name / "app.py").exists()]


_BULK_REQUEST_SIZE = [BULK_REQUEST_KEYS]


@contextlib.contextmanager
def _bulk_request_keys(size: int) -> Iterator[None]:
    """Smaller bulk requests for the warm-up, so that it keeps every concurrent worker busy."""
    _BULK_REQUEST_SIZE[0] = size
    try:
        yield
    finally:
        _BULK_REQUEST_SIZE[0] = BULK_REQUEST_KEYS


def task_id_of(document: Any, headers: dict[str, str]) -> str | None:
    """The task a response points at: a ``task_id``/``id`` field (top level or under ``task``/``data``), or the
    ``Location`` header's last segment."""
    if isinstance(document, dict):
        for container in (document, document.get("task"), document.get("data")):
            if isinstance(container, dict):
                for field in ("task_id", "taskId", "id"):
                    if isinstance(container.get(field), str) and container[field]:
                        return str(container[field])
    location = {name.lower(): value for name, value in headers.items()}.get("location", "")
    if "/tasks/" in location:
        return location.rstrip("/").rsplit("/", 1)[-1]
    return None


def status_of(document: Any) -> str:
    if isinstance(document, dict):
        for container in (document, document.get("task"), document.get("data")):
            if isinstance(container, dict) and isinstance(container.get("status"), str):
                return str(container["status"]).upper()
    return ""


# Fields that move with the clock alone (a rate decays while nothing happens).
CLOCK_DERIVED = {"retry_after", "elapsed_seconds", "rate_per_second", "estimated_seconds_remaining"}


def progress_summary(document: Any) -> str:
    progress = document.get("progress") if isinstance(document, dict) else None
    if isinstance(progress, dict):
        return ", ".join(f"{key} {progress[key]}" for key in ("objects_deleted", "versions_listed", "percent")
                         if key in progress)
    return status_of(document)


def progress_of(document: Any) -> str:
    """The task document without its clocks: it changes only when the task moves."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items()
                    if not key.endswith(("_at", "At", "_time")) and key not in CLOCK_DERIVED}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return json.dumps(strip(document), sort_keys=True, default=str)


class LocalStack:
    """The local stack as a subprocess, on the bench's backend."""

    def __init__(self, endpoint: str, environment: dict[str, str]) -> None:
        self.endpoint = endpoint
        self.environment = environment
        self.workdir = Path(tempfile.mkdtemp(prefix="eraser-bench-stack-"))
        self.state_file = self.workdir / "local.json"
        self.log_file = self.workdir / "local-stack.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] = {}

    def start(self, port: int) -> None:
        environment = {**self.environment, "AWS_ENDPOINT_URL": self.endpoint, "PORT": str(port),
                       "ERASER_LOCAL_STATE": str(self.state_file)}
        with open(self.log_file, "wb") as log:
            self.process = subprocess.Popen([str(SAM_PYTHON), "-m", "local.run", "--port", str(port),
                                             "--state-file", str(self.state_file)],
                                            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.state_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the local stack exited ({self.process.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not start in {STARTUP_SECONDS} s: {self.log_tail()}")
            time.sleep(0.2)
        self.state = json.loads(self.state_file.read_text())

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_file.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # The stack stops its worker processes on SIGTERM; they are in its session, which is ours to end.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    @property
    def url(self) -> str:
        return str(self.state["url"])

    def function_peak_memory_mb(self, function: str) -> float | None:
        """The highest peak resident set (VmHWM) among the stack's worker processes of ``function``."""
        if not self.process:
            return None
        peaks: list[float] = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                if f"AWS_LAMBDA_FUNCTION_NAME={function}".encode() not in environ:
                    continue
                if f"ERASER_LOCAL_STATE={self.state_file}".encode() not in environ and \
                        os.getsid(int(entry.name)) != self.process.pid:
                    continue
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
            except (OSError, ValueError):
                continue
        return max(peaks) if peaks else None


def http(method: str, url: str, headers: dict[str, str], body: Any = None,
         timeout: float = 120) -> tuple[int, Any, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={**headers, **({"Content-Type": "application/json"} if data else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text, response_headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, text, response_headers = error.code, error.read(), dict(error.headers)
    try:
        document = json.loads(text) if text else None
    except ValueError:
        document = text.decode("utf-8", "replace")
    return status, document, response_headers


class EraserApi(Contender):
    name = "eraser (HTTP API, task + fan-out)"
    role = ERASER

    def __init__(self, stack: LocalStack | None, unavailable_reason: str | None = None,
                 stall_seconds: float = 120, timeout_seconds: float = TASK_TIMEOUT_SECONDS) -> None:
        self.stack = stack
        self._unavailable = unavailable_reason
        self.stall_seconds = stall_seconds
        self.timeout_seconds = timeout_seconds
        # A task the bench gave up on: cancelled, and waited for before the next contender runs.
        self._abandoned: tuple[str, dict[str, str]] | None = None
        self.tasks: list[dict[str, Any]] = []

    def unavailable(self) -> str | None:
        return self._unavailable

    def unavailable_for(self, scenario: Scenario) -> str | None:
        missing = missing_functions(scenario.kind)
        return "engine not in this tree yet: " + ", ".join(missing) if missing else None

    def prepare(self, bucket: str) -> str:
        """Register the bucket with the stack's organization and issue a fresh all-scopes key for this run (the
        task-creating endpoints are rate-limited per credential)."""
        from eraser.auth import ALL_SCOPES, CredentialStore
        from eraser.clock import new_id, utc_now
        from eraser.tenancy import Bucket, TenancyRepository

        assert self.stack is not None
        organization_id = str(self.stack.state["organization_id"])
        TenancyRepository().put_bucket(Bucket(id=new_id("bkt"), name=bucket, organization_id=organization_id,
                                              s3_bucket=bucket, created_at=utc_now()))
        api_key, _ = CredentialStore().issue(organization_id, sorted(scope.value for scope in ALL_SCOPES),
                                             name="bench")
        return str(api_key)

    def _bulk(self, context: RunContext, api_key: str) -> Outcome:
        """The bulk endpoint takes at most 1000 keys a request: a client sends the requests side by side, as many
        at a time as the local stack runs the function concurrently. The client is a process of its own
        (``bench.worker eraser-bulk``), like the boto3 contenders, so that its JSON and HTTP work does not take the
        in-process moto server's interpreter lock."""
        assert self.stack is not None
        with tempfile.TemporaryDirectory(prefix="eraser-bench-bulk-") as scratch:
            workdir = Path(scratch)
            objects_file = workdir / "objects.json"
            objects_file.write_text(json.dumps([{"Key": entry["Key"]} for entry in context.objects]))
            command = [sys.executable, "-m", "bench.worker", "eraser-bulk", context.bucket, "--url", self.stack.url,
                       "--objects-file", str(objects_file), "--workers", str(BULK_CLIENT_CONCURRENCY),
                       "--request-keys", str(_BULK_REQUEST_SIZE[0])]
            _, error, output = run_process(command, {**self.stack.environment, "ERASER_BENCH_API_KEY": api_key},
                                           workdir)
        requests = -(-len(context.objects) // _BULK_REQUEST_SIZE[0])
        if error:
            return Outcome(0.0, error)
        report = json.loads(output.strip().splitlines()[-1])
        self.tasks.append({"bucket": context.bucket, "requests": requests, "failures": report["failures"]})
        if report["errors"]:
            return Outcome(float(report["seconds"]), f"{report['errors']} keys in failed requests: "
                                                     f"{'; '.join(report['failures'])[:300]}")
        return Outcome(float(report["seconds"]), detail={"requests": requests})

    def _abandon(self, base: str, task_id: str, headers: dict[str, str]) -> None:
        http("POST", f"{base}/v1/tasks/{urllib.parse.quote(task_id)}/cancel", headers)
        self._abandoned = (task_id, headers)

    def settle(self, limit_seconds: float = 300) -> None:
        """Wait for a task the bench gave up on to end (its bucket is gone by now), so that it does not eat into
        the next contender's machine."""
        if not self._abandoned or not self.stack:
            return
        task_id, headers = self._abandoned
        self._abandoned = None
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline:
            _, document, _ = http("GET", f"{self.stack.url}/v1/tasks/{urllib.parse.quote(task_id)}", headers)
            if status_of(document) in TERMINAL_STATUSES:
                return
            time.sleep(2)
        print(f"bench: task {task_id} still running {limit_seconds:.0f} s after it was cancelled", flush=True)

    def warm_up(self, backend: Any) -> None:
        """One tiny purge and tiny bulk deletes (as many at once as a bulk run sends) before anything is timed, so
        that every worker the scenarios use is warm (cold starts are reported separately, as import times)."""
        for kind, bucket in ((Kind.PURGE, "eraser-bench-warm-up-purge"), (Kind.BULK_KNOWN_KEYS,
                                                                          "eraser-bench-warm-up-bulk")):
            if missing_functions(kind):
                continue
            keys = [f"warm/{index:04d}" for index in range(2 if kind is Kind.PURGE else 2 * BULK_CLIENT_CONCURRENCY)]
            backend.create_bucket(bucket)
            backend.put_objects(bucket, keys)
            scenario = Scenario("warm-up", kind, len(keys), "warm-up")
            with _bulk_request_keys(2):
                outcome = self.run(RunContext(scenario=scenario, bucket=bucket, environment={}, endpoint=backend.url,
                                              objects=[{"Key": key} for key in keys], workdir=Path("/")))
            backend.drop_bucket(bucket)
            if outcome.error:
                print(f"bench: Eraser warm-up ({kind.value}) failed: {outcome.error}", flush=True)
        self.tasks.clear()

    def run(self, context: RunContext) -> Outcome:
        assert self.stack is not None
        api_key = self.prepare(context.bucket)
        if context.scenario.kind is Kind.BULK_KNOWN_KEYS:
            return self._bulk(context, api_key)
        headers = {"X-Api-Key": api_key, "Accept": "application/json"}
        base = self.stack.url
        started = time.perf_counter()
        status, document, response_headers = http(
            "DELETE", f"{base}/storage/obj/{urllib.parse.quote(context.bucket)}/purge", headers)
        if status >= 400:
            return Outcome(time.perf_counter() - started, f"HTTP {status}: {str(document)[:200]}")
        task_id = task_id_of(document, response_headers)
        final: Any = document
        if task_id and (status == 202 or status_of(document) not in TERMINAL_STATUSES):
            deadline = time.monotonic() + self.timeout_seconds
            last_change, last_progress = time.monotonic(), ""
            while True:
                poll_status, final, _ = http("GET", f"{base}/v1/tasks/{urllib.parse.quote(task_id)}", headers)
                if poll_status >= 400 and poll_status != 429:
                    return Outcome(time.perf_counter() - started, f"polling: HTTP {poll_status}: {str(final)[:200]}")
                if status_of(final) in TERMINAL_STATUSES:
                    break
                progress = progress_of(final)
                if progress != last_progress:
                    last_change, last_progress = time.monotonic(), progress
                elif time.monotonic() - last_change > self.stall_seconds:
                    self._abandon(base, task_id, headers)
                    return Outcome(time.perf_counter() - started,
                                   f"task {task_id} stalled for {self.stall_seconds:.0f} s: {progress[:200]}")
                if time.monotonic() > deadline:
                    self._abandon(base, task_id, headers)
                    return Outcome(time.perf_counter() - started,
                                   f"not finished after {self.timeout_seconds:.0f} s (cancelled): "
                                   f"{progress_summary(final)}")
                time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        self.tasks.append({"bucket": context.bucket, "task_id": task_id, "http_status": status,
                           "final": final if isinstance(final, dict) else str(final)[:500]})
        if status_of(final) in FAILED_STATUSES:
            return Outcome(seconds, f"task ended {status_of(final)}", detail={"task": final})
        return Outcome(seconds, detail={"task_id": task_id})


class S5cmdThroughEraser(S5cmd):
    """s5cmd pointed at Eraser's S3 endpoint (``<stack>/s3``) with an issued S3 access key, beside s5cmd direct:
    what SigV4, the tenancy lookups, the version checks and API Gateway's emulation cost a real S3 client."""

    role = VIA_ERASER

    def __init__(self, eraser: EraserApi) -> None:
        super().__init__()
        self.name = "s5cmd through Eraser's S3 endpoint"
        self.eraser = eraser

    def unavailable(self) -> str | None:
        return self.eraser.unavailable() or super().unavailable()

    def unavailable_for(self, scenario: Scenario) -> str | None:
        return self.eraser.unavailable_for(scenario)

    def run(self, context: RunContext) -> Outcome:
        from eraser.auth import CredentialStore

        assert self.eraser.stack is not None
        self.eraser.prepare(context.bucket)
        organization_id = str(self.eraser.stack.state["organization_id"])
        secret, record = CredentialStore().issue_s3_key(organization_id, ["objects:delete", "objects:read"],
                                                        name="bench-s5cmd")
        environment = {**context.environment, "AWS_ACCESS_KEY_ID": record.access_key_id,
                       "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"}
        environment.pop("AWS_SESSION_TOKEN", None)
        return super().run(replace(context, endpoint=f"{self.eraser.stack.url}/s3", environment=environment))
