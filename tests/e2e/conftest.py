"""The whole local stack as a black box: ``local.run`` started once per test session on a free port.

Use the session fixture ``local_stack`` (a ``LocalStack``)::

    def test_something(local_stack):
        response = local_stack.request("DELETE", "/s3/demo/hello.txt", headers=local_stack.auth)
        assert response.status == 204
        local_stack.client("s3").head_object(...)   # boto3 on the stack's moto server

The stack is shared by the whole session: create your own objects (``local_stack.put``), or your own tenant with
``local_stack.admin("create-org", ...)``, rather than relying on the demo objects other tests may delete.

Environment: ``ERASER_E2E_SCHEDULE_SPEEDUP`` (default 60: ``rate(5 minutes)`` fires every 5 s),
``ERASER_E2E_KEEP_LOG=1`` prints the stack's log path at the end instead of deleting it,
``ERASER_E2E_BACKEND=seaweedfs`` (``make e2e-seaweedfs``) runs the stack with SeaweedFS for S3 (moto for the rest);
a test that relies on moto's own behaviour is marked ``moto_only`` with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.backend import free_port

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
START_TIMEOUT_SECONDS = 180


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass(frozen=True)
class LocalStack:
    """A running ``local.run``.

    - ``base_url``: the API, ``http://127.0.0.1:<port>`` (routes as in template.yaml, no stage prefix)
    - ``api_key``: an all-scopes API key of the demo organization; ``auth`` is ``{"X-Api-Key": api_key}``
    - ``organization_id``: the demo organization (sub domain ``demo``, account 123456789012)
    - ``bucket``: the demo bucket's API name (``demo``); ``s3_bucket``: its S3 bucket (``eraser-dev-demo``), seeded
      with ``hello.txt``, ``reports/2024/q1.csv``, ``reports/2024/q2.csv``, ``images/cat.jpg``
    - ``endpoint_url``: the moto server every function uses; ``s3_endpoint_url``: the S3 the functions use (the
      same moto server, or SeaweedFS); ``client(service)`` is a boto3 client on the right one
    - ``backend``: ``moto`` or ``seaweedfs``
    - ``tables``, ``queues``: logical id -> table name / queue URL
    - ``jwt_secret``: the secret the functions verify bearer tokens with
    - ``environment``: the functions' shared environment (tables, queues, backend), for subprocesses
    - ``state``: the whole state document ``local.run`` wrote; ``log_path``: the stack's stdout and stderr
    """

    base_url: str
    api_key: str
    organization_id: str
    bucket: str
    s3_bucket: str
    endpoint_url: str
    s3_endpoint_url: str
    backend: str
    tables: dict[str, str]
    queues: dict[str, str]
    jwt_secret: str
    environment: dict[str, str]
    state: dict[str, Any]
    log_path: Path
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_state(cls, state: dict[str, Any], log_path: Path, *, endpoint_url: str | None = None,
                   environment: dict[str, str] | None = None) -> LocalStack:
        """The stack ``local.run`` describes in its state file; ``endpoint_url`` and ``environment`` replace the
        backend the stack's own functions use (the reliability suite's checks go past its fault proxy)."""
        return cls(base_url=state["url"], api_key=state["api_key"], organization_id=state["organization_id"],
                   bucket=state["demo"]["bucket"]["name"], s3_bucket=state["demo"]["bucket"]["s3_bucket"],
                   endpoint_url=endpoint_url or state["endpoint_url"],
                   s3_endpoint_url=state.get("s3_endpoint_url") if state.get("backend") == "seaweedfs"
                   else endpoint_url or state["endpoint_url"],
                   backend=state.get("backend", "moto"), tables=state["tables"],
                   queues=state["queues"], jwt_secret=state["jwt_secret"],
                   environment=environment or state["environment"], state=state, log_path=log_path)

    @property
    def auth(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            endpoint_url = self.s3_endpoint_url if service == "s3" else self.endpoint_url
            self._clients[service] = boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1",
                                                  aws_access_key_id="testing", aws_secret_access_key="testing")
        return self._clients[service]

    def put(self, key: str, body: bytes | str = b"x", s3_bucket: str | None = None) -> None:
        self.client("s3").put_object(Bucket=s3_bucket or self.s3_bucket, Key=key, Body=body)

    def exists(self, key: str, s3_bucket: str | None = None) -> bool:
        try:
            self.client("s3").head_object(Bucket=s3_bucket or self.s3_bucket, Key=key)
            return True
        except self.client("s3").exceptions.ClientError:
            return False

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: bytes | str | dict[str, Any] | list[Any] | None = None, timeout: float = 60) -> HttpResponse:
        """An HTTP request to the API; ``path`` is sent as given (percent-encode it yourself)."""
        all_headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        data = body.encode("utf-8") if isinstance(body, str) else body
        request = urllib.request.Request(self.base_url + path, data=data, headers=all_headers,  # noqa: S310 - http
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
                return HttpResponse(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            return HttpResponse(error.code, dict(error.headers.items()), error.read())

    def admin(self, *argv: str) -> Any:
        """``eraser-admin`` against this stack; its JSON output."""
        completed = subprocess.run([str(PROJECT_PYTHON), "-m", "eraser.admin", *argv], cwd=ROOT, check=True,  # noqa: S603
                                   env={"PATH": os.environ.get("PATH", ""), **self.environment},
                                   capture_output=True, text=True)
        return json.loads(completed.stdout)


def _stop(process: subprocess.Popen[bytes]) -> None:
    # SIGTERM to local.run alone exercises its own cleanup (workers, pollers, moto server); then the group is killed
    # in case anything survived.
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@contextlib.contextmanager
def running_local_stack(environment: dict[str, str], *, name: str) -> Iterator[tuple[dict[str, Any], Path]]:
    """``local.run`` on a free port with ``environment`` added to this process's (less ``AWS_ENDPOINT_URL``), until
    the block ends: its state document and the path of its log. The backend is ``ERASER_E2E_BACKEND`` unless
    ``environment`` names one (``ERASER_LOCAL_BACKEND``)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"eraser-{name}-"))
    state_file = workdir / "local.json"
    log_path = workdir / "stack.log"
    full_environment = {name: value for name, value in os.environ.items()
                        if name not in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")}
    full_environment.update({"ERASER_LOCAL_STATE": str(state_file), "SAM_CLI_TELEMETRY": "0",
                             "ERASER_LOCAL_BACKEND": e2e_backend(),
                             "ERASER_SCHEDULE_SPEEDUP": os.environ.get("ERASER_E2E_SCHEDULE_SPEEDUP", "60"),
                             **environment})
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(SAM_PYTHON), "-m", "local.run", "--port", str(free_port())],  # noqa: S603
                                   cwd=ROOT, env=full_environment, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not state_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"local.run did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
            time.sleep(0.2)
        yield json.loads(state_file.read_text(encoding="utf-8")), log_path
    finally:
        _stop(process)
        if os.environ.get("ERASER_E2E_KEEP_LOG"):
            print(f"\n{name} stack log: {log_path}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def e2e_backend() -> str:
    return os.environ.get("ERASER_E2E_BACKEND", "").strip().lower() or "moto"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.moto_only("why")``: the test relies on moto (its DLQ redrive, a fresh moto backend, one of its
    quirks), so it is skipped on another backend, with the reason naming the difference."""
    backend = e2e_backend()
    if backend == "moto":
        return
    for item in items:
        marker = item.get_closest_marker("moto_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "relies on moto"
            item.add_marker(pytest.mark.skip(reason=f"moto only on {backend}: {reason}"))


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    if not SAM_PYTHON.exists():
        pytest.skip("the SAM CLI environment (.venv-sam) is missing: make venv")
    with running_local_stack({}, name="e2e") as (state, log_path):
        yield LocalStack.from_state(state, log_path)
