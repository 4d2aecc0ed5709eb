"""Runs the template's functions as plain Python in the project's environment, in warm worker processes
(``local.runtime``), and stands in for SAM CLI's ``LocalLambdaRunner`` (the Docker-based one) behind its API Gateway
emulation.

Each function gets a pool of workers: one is started on the first invocation and kept warm; concurrent invocations
start more, up to ``max_concurrency``. The template's ``Timeout`` is enforced here: a worker that has not answered in
time is killed (its next invocation is a cold start) and the caller gets Lambda's timeout error. Standard library and
``local.template`` only, so that both the SAM CLI's environment and the project's can import it.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.template import ROOT, Resolver, load_template

PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
# Lambda gives an init phase 10 s; a cold import on a busy laptop can take longer, so be lenient locally.
INIT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: float
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)

    def process_environment(self) -> dict[str, str]:
        """What Lambda's Python runtime sets, then the template's variables (which win, as on AWS)."""
        return {
            "AWS_LAMBDA_FUNCTION_NAME": self.logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "_HANDLER": self.handler,
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            **self.environment,
        }


def function_specs(resolver: Resolver, base_environment: dict[str, str],
                   template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    """Every ``AWS::Serverless::Function`` of the template with Globals applied and its environment resolved."""
    from local.provision import function_environment

    template = template or load_template()
    defaults = template.get("Globals", {}).get("Function", {})
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(ROOT / str(resolver(properties["CodeUri"]))).resolve(),
            handler=str(properties["Handler"]),
            timeout=float(resolver(properties.get("Timeout", 3))),
            memory_mb=int(resolver(properties.get("MemorySize", 128))),
            environment={**base_environment, **function_environment(resolver, template, logical_id)},
        )
    return specs


@dataclass(frozen=True)
class Invocation:
    """A function's response as Lambda's Invoke returns it: the payload, and whether it is a function error."""

    payload: Any
    failed: bool

    @property
    def text(self) -> str:
        return json.dumps(self.payload)


class Worker:
    """One execution environment: a ``local.runtime`` process and a thread reading its replies."""

    def __init__(self, spec: FunctionSpec, python: str) -> None:
        self.spec = spec
        # stderr is inherited: the function's logs go to the runner's stderr. The worker shares the runner's process
        # group, so killing the group (the e2e fixture, a terminal's Ctrl+C) leaves no orphan; closing its stdin when
        # the runner dies ends it too.
        self.process = subprocess.Popen(
            [python, "-m", "local.runtime", spec.logical_id], cwd=ROOT, env=spec.process_environment(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
        )
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ready: dict[str, Any] | None = None
        threading.Thread(target=self._read, name=f"worker-{spec.logical_id}", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._replies.put(json.loads(line))
        self._replies.put(None)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _reply(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None

    def invoke(self, event_text: str, request_id: str) -> Invocation:
        if self._ready is None:
            try:
                self._ready = self._reply(INIT_TIMEOUT_SECONDS) or {"init_error": _exit_error(request_id, self)}
            except TimeoutError:
                self.stop()
                return Invocation({"errorMessage": f"RequestId: {request_id} Error: init timed out",
                                   "errorType": "Runtime.InitTimeout", "requestId": request_id}, failed=True)
        if "init_error" in self._ready:
            self.stop()
            return Invocation({**self._ready["init_error"], "requestId": request_id}, failed=True)
        deadline_ms = int((time.time() + self.spec.timeout) * 1000)
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(f'{{"request_id": {json.dumps(request_id)}, "deadline_ms": {deadline_ms}, '
                                     f'"event": {event_text}}}\n')
            self.process.stdin.flush()
            reply = self._reply(self.spec.timeout)
        except TimeoutError:
            self.stop(kill=True)
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            message = f"{stamp} {request_id} Task timed out after {self.spec.timeout:.2f} seconds"
            sys.stderr.write(message + "\n")
            return Invocation({"errorMessage": message}, failed=True)
        except BrokenPipeError:
            reply = None
        if reply is None:
            return Invocation(_exit_error(request_id, self), failed=True)
        if "error" in reply:
            return Invocation(reply["error"], failed=True)
        return Invocation(reply.get("result"), failed=False)

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                try:
                    assert self.process.stdin is not None
                    self.process.stdin.close()
                    self.process.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass


def _exit_error(request_id: str, worker: Worker) -> dict[str, Any]:
    worker.stop()
    return {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status "
                            f"{worker.process.returncode}", "errorType": "Runtime.ExitError", "requestId": request_id}


class FunctionPool:
    def __init__(self, spec: FunctionSpec, python: str, max_concurrency: int) -> None:
        self.spec = spec
        self._python = python
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._stopped = False

    def invoke(self, event_text: str, request_id: str) -> Invocation:
        with self._slots:
            with self._lock:
                if self._stopped:
                    raise RuntimeError("the local runner is stopping")
                worker = self._idle.pop() if self._idle else None
                if worker is None:
                    worker = Worker(self.spec, self._python)
                    self._all.add(worker)
            outcome = worker.invoke(event_text, request_id)
            with self._lock:
                if worker.alive and not self._stopped:
                    self._idle.append(worker)
                else:
                    self._all.discard(worker)
            return outcome

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            workers = list(self._all)
        for worker in workers:
            worker.stop()


class Runner:
    """Invokes functions by logical id. ``invoke`` and ``is_debugging`` are what SAM CLI's ``LocalApigwService``
    calls on its ``LocalLambdaRunner``: it passes the event as a JSON string and reads the function's response from
    ``stdout`` (a SAM ``StreamWriter``)."""

    def __init__(self, specs: dict[str, FunctionSpec], python: str | None = None, max_concurrency: int | None = None):
        python = python or os.environ.get("ERASER_LOCAL_PYTHON") or str(PROJECT_PYTHON)
        concurrency = max_concurrency or int(os.environ.get("ERASER_LOCAL_MAX_CONCURRENCY", "4"))
        self.specs = specs
        self.max_concurrency = concurrency
        self._pools = {name: FunctionPool(spec, python, concurrency) for name, spec in specs.items()}

    def call(self, function: str, event: str | dict[str, Any]) -> Invocation:
        # One line of the protocol: re-encode, since a caller's JSON text may span lines.
        event_text = json.dumps(json.loads(event) if isinstance(event, str) else event)
        return self._pools[function].invoke(event_text, str(uuid.uuid4()))

    def invoke(self, function_identifier: str, event: str, *, stdout: Any = None, stderr: Any = None,
               **_: Any) -> None:
        outcome = self.call(function_identifier, event)
        if stdout is not None:
            # A function error keeps Lambda's payload shape (errorMessage, errorType, requestId, stackTrace), which
            # the API Gateway emulation answers with 502 "Internal server error", as API Gateway does.
            stdout.write_str(outcome.text)

    def is_debugging(self) -> bool:
        return False

    def stop(self) -> None:
        for pool in self._pools.values():
            pool.stop()
