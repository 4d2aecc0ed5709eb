"""The AWS backend of the local stack: moto's server on loopback, started and stopped here, or whatever
``AWS_ENDPOINT_URL`` already points at (LocalStack, another moto server, or a real account); then the template's
tables and queues on it and the demo tenant.

Used by ``local.run`` and ``local.invoke`` in the SAM CLI's environment; moto and the domain package live in the
project's environment, so they run as subprocesses of its interpreter.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from local.provision import function_environment, provision
from local.runner import PROJECT_PYTHON, FunctionSpec, function_specs
from local.template import PSEUDO_PARAMETERS, ROOT, Resolver, load_template

REGION = PSEUDO_PARAMETERS["AWS::Region"]
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def project_python() -> str:
    return os.environ.get("ERASER_LOCAL_PYTHON") or str(PROJECT_PYTHON)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def is_listening(url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _die_with_parent() -> None:
    # The server runs in its own session, out of reach of a terminal's Ctrl+C (moto exits on SIGINT, and the runner
    # must stop its pollers and workers before the backend goes). It must not outlive the runner even when the
    # runner is killed with SIGKILL: the kernel sends it SIGTERM then (Linux only).
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def moto_server(host: str = "127.0.0.1") -> Iterator[str]:
    port = free_port(host)
    url = f"http://{host}:{port}"
    process = subprocess.Popen([project_python(), "-m", "local.moto_server", "-H", host, "-p", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + 60
        while not is_listening(f"{url}/moto-api/"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start on {url}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


BACKENDS = ("moto", "seaweedfs")


def backend_name() -> str:
    """``ERASER_LOCAL_BACKEND`` (``make run`` sets it from ``BACKEND``): ``moto`` (default) or ``seaweedfs``."""
    name = os.environ.get("ERASER_LOCAL_BACKEND", "").strip().lower() or "moto"
    if name not in BACKENDS:
        raise RuntimeError(f"unknown backend '{name}': choose one of {', '.join(BACKENDS)}")
    return name


@contextlib.contextmanager
def backend(name: str | None = None) -> Iterator[tuple[str, dict[str, str]]]:
    """The endpoint URL and the AWS variables every process of the stack gets. With ``seaweedfs``, S3 alone goes to
    a SeaweedFS server (``AWS_ENDPOINT_URL_S3``, which botocore prefers to ``AWS_ENDPOINT_URL`` for S3 clients) and
    the rest to moto."""
    name = name or backend_name()
    external = os.environ.get("AWS_ENDPOINT_URL")
    if external and name == "moto":
        credentials = {name: os.environ[name] for name in CREDENTIAL_VARIABLES if name in os.environ}
        yield external, {"AWS_ENDPOINT_URL": external, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                         **(credentials or FAKE_CREDENTIALS)}
        return
    with contextlib.ExitStack() as servers:
        url = external or servers.enter_context(moto_server())
        environment = {"AWS_ENDPOINT_URL": url, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                       **FAKE_CREDENTIALS}
        if name == "seaweedfs":
            from local.seaweedfs import ACCESS_KEY_ID, SECRET_ACCESS_KEY, seaweedfs_server

            s3_url = servers.enter_context(seaweedfs_server(project_python()))
            # moto takes any credentials; SeaweedFS only its identity's, and none with a session token.
            environment = {"AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_S3": s3_url, "AWS_REGION": REGION,
                           "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                           "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}
        yield url, environment


@dataclass
class Stack:
    """The provisioned resources and what the functions see."""

    endpoint_url: str
    stage: str
    template: dict[str, Any]
    resolver: Resolver
    aws_environment: dict[str, str]
    jwt_secret: str

    @property
    def environment(self) -> dict[str, str]:
        """The Globals environment (tables, queues, settings) plus the backend: what the admin command needs."""
        any_function = next(name for name, resource in self.template["Resources"].items()
                            if resource["Type"] == "AWS::Serverless::Function")
        globals_only = {name: value for name, value in function_environment(self.resolver, self.template,
                                                                            any_function).items()
                        if name in self.template["Globals"]["Function"]["Environment"]["Variables"]}
        return {**globals_only, **self.aws_environment}

    def function_specs(self) -> dict[str, FunctionSpec]:
        # The layer of this checkout (EraserLayer's ContentUri), as Lambda puts a layer on the path: the project
        # environment's editable install may point at another checkout (a git worktree).
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                "PYTHONPATH": str(ROOT / "layers" / "eraser"), "POWERTOOLS_TRACE_DISABLED": "true",
                **self.aws_environment}
        return function_specs(self.resolver, base, self.template)

    def queues(self) -> dict[str, str]:
        return {name: str(self.resolver.refs[name]) for name, resource in self.template["Resources"].items()
                if resource["Type"] == "AWS::SQS::Queue"}

    def tables(self) -> dict[str, str]:
        return {name: str(self.resolver.refs[name]) for name, resource in self.template["Resources"].items()
                if resource["Type"] == "AWS::DynamoDB::Table"}

    def event_buses(self) -> list[str]:
        return [str(self.resolver.refs[name]) for name, resource in self.template["Resources"].items()
                if resource["Type"] == "AWS::Events::EventBus"]

    def sqs(self) -> Any:
        # Few retries and short timeouts: pollers must notice a stop, or a backend gone, within seconds.
        settings = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=30,
                          max_pool_connections=100)
        return self.session().client("sqs", endpoint_url=self.endpoint_url, config=settings)

    def session(self) -> Any:
        return boto3.session.Session(
            aws_access_key_id=self.aws_environment.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.aws_environment.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=self.aws_environment.get("AWS_SESSION_TOKEN"),
            profile_name=self.aws_environment.get("AWS_PROFILE"), region_name=REGION)

    def seed_demo(self) -> dict[str, Any]:
        """Run ``eraser.admin seed-demo`` in the project's environment; its JSON output."""
        completed = subprocess.run([project_python(), "-m", "eraser.admin", "seed-demo", "--json"], cwd=ROOT,
                                   env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.environment},
                                   capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"seeding the demo failed:\n{completed.stderr}")
        return dict(json.loads(completed.stdout))


def provision_stack(endpoint_url: str, aws_environment: dict[str, str], stage: str = "local",
                    jwt_secret: str | None = None, parameter_overrides: dict[str, str] | None = None) -> Stack:
    """Create the template's tables and queues (idempotent: an existing stack's are reused)."""
    template = load_template()
    jwt_secret = jwt_secret or os.environ.get("JWT_SECRET") or secrets.token_urlsafe(32)
    session = boto3.session.Session(region_name=REGION, **{
        key: aws_environment[name] for key, name in (("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
                                                     ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
                                                     ("aws_session_token", "AWS_SESSION_TOKEN"),
                                                     ("profile_name", "AWS_PROFILE"))
        if name in aws_environment})
    # S3 may be another backend (SeaweedFS): the receipts bucket is created where the functions will write to it.
    with _endpoint("AWS_ENDPOINT_URL", endpoint_url), \
            _endpoint("AWS_ENDPOINT_URL_S3", aws_environment.get("AWS_ENDPOINT_URL_S3")):
        resolver = provision(session, stage=stage, template=template, parameter_overrides={**(parameter_overrides or {}),
                                                                                   "JwtSecret": jwt_secret})
    return Stack(endpoint_url=endpoint_url, stage=stage, template=template, resolver=resolver,
                 aws_environment=aws_environment, jwt_secret=jwt_secret)


@contextlib.contextmanager
def _endpoint(variable: str, url: str | None) -> Iterator[None]:
    # provision() makes its clients from the session, which honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3).
    saved = os.environ.get(variable)
    if url is not None:
        os.environ[variable] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = saved
