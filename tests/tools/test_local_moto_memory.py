"""The embedded backend keeps nothing of what was deleted (moto alone keeps every object it ever created)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import boto3
import pytest
from moto.s3.models import FakeKey
from werkzeug.serving import make_server

from local.moto_server import moto_application, stop_tracking_model_instances

OBJECTS = 300


@pytest.fixture(params=[True, False], ids=["untracked", "moto-default"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[str, bool]]:
    restore = stop_tracking_model_instances() if request.param else (lambda: None)
    server = make_server("127.0.0.1", 0, moto_application(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", request.param
    finally:
        server.shutdown()
        thread.join()
        restore()


def _live_keys(bucket: str) -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if isinstance(thing, FakeKey) and thing.bucket_name == bucket)


def test_deleted_objects_are_released(endpoint: tuple[str, bool], request: pytest.FixtureRequest) -> None:
    url, untracked = endpoint
    bucket = f"memory-{request.node.callspec.id}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    keys = [f"key-{index}" for index in range(OBJECTS)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 1000)
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys]})

    if untracked:
        assert _live_keys(bucket) == 0
    else:
        # What the embedded server avoids: moto's instance tracking keeps every deleted object and its body.
        assert _live_keys(bucket) == OBJECTS
