"""The embedded backend: moto's server on loopback, run inside the bench's process.

Running it in-process lets the bench populate buckets through moto's backend objects (about 24,000 objects per
second, where HTTP PUTs manage about 200) and count every request with a WSGI middleware. Every contender, Eraser's
local stack included, talks to it over HTTP like it would to S3.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.request
from typing import Any

from bench.counting import CountingMiddleware, RequestLedger
from bench.scenarios import markers_for

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
               "AWS_REGION": REGION}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedBackend:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ledger = RequestLedger()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        from local.moto_server import moto_application

        # werkzeug logs every request to stderr otherwise (the bench makes hundreds of thousands), and a traceback
        # for each of moto's sporadic 500s, which the counting middleware tallies instead.
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        # The local stack's moto app: DynamoDB requests serialized, or moto's failed transactions erase acknowledged
        # writes of the tasks being measured (docs/local.md).
        application = CountingMiddleware(moto_application(), self.ledger)
        self._server = make_server("127.0.0.1", self.port, application, threaded=True,
                                   request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)

    def reset(self) -> None:
        """Forget every resource (moto otherwise keeps every object ever created: it grew to 14.5 GB once)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    def client_environment(self) -> dict[str, str]:
        """What a client process needs to reach this backend (boto3, the AWS CLI and s5cmd all read these)."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.url, "S3_ENDPOINT_URL": self.url,
                # Concurrent list+delete make moto answer sporadic 500s: every client retries.
                "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "10"}

    # --- populating and checking, straight through moto's backend ----------------------------------------------------
    @property
    def s3(self) -> Any:
        from moto.backends import get_backend

        return get_backend("s3")[ACCOUNT_ID]["global"]

    def create_bucket(self, name: str, *, versioned: bool = False) -> None:
        self.s3.create_bucket(name, REGION)
        if versioned:
            self.s3.put_bucket_versioning(name, "Enabled")

    def put_objects(self, bucket: str, keys: list[str], body: bytes = b"x") -> None:
        s3 = self.s3
        for key in keys:
            s3.put_object(bucket, key, body, disable_notification=True)

    def put_versions(self, bucket: str, keys: list[str]) -> int:
        """Two versions of every key, and a delete marker on every second one. Returns the entries created."""
        s3 = self.s3
        for key in keys:
            s3.put_object(bucket, key, b"version-1", disable_notification=True)
            s3.put_object(bucket, key, b"version-2", disable_notification=True)
        for key in keys[::2]:
            s3.delete_object(bucket, key)
        return 2 * len(keys) + markers_for(len(keys))

    def remaining(self, bucket: str) -> set[str]:
        """Every key that still has a version or a delete marker."""
        fake_bucket = self.s3.get_bucket(bucket)
        return {key for key in fake_bucket.keys.keys() if fake_bucket.keys.getlist(key)}

    def remaining_entries(self, bucket: str) -> int:
        """Versions and delete markers left (an unversioned object counts once)."""
        fake_bucket = self.s3.get_bucket(bucket)
        return sum(len(fake_bucket.keys.getlist(key)) for key in list(fake_bucket.keys.keys()))

    def versions(self, bucket: str) -> list[tuple[str, str]]:
        fake_bucket = self.s3.get_bucket(bucket)
        return [(key, str(entry.version_id)) for key in list(fake_bucket.keys.keys())
                for entry in fake_bucket.keys.getlist(key)]

    def drop_bucket(self, bucket: str) -> None:
        """Remove a bucket whatever it holds, and free its objects' buffers."""
        from moto.s3.models import FakeKey, s3_backends

        s3 = self.s3
        fake_bucket = s3.buckets.get(bucket)
        if fake_bucket is None:
            return
        for key in list(fake_bucket.keys.keys()):
            for entry in fake_bucket.keys.getlist(key):
                if isinstance(entry, FakeKey):
                    entry.dispose()
        fake_bucket.keys.clear()
        s3.buckets.pop(bucket, None)
        s3_backends.bucket_accounts.pop(bucket, None)


def apply_client_environment(backend: EmbeddedBackend) -> None:
    os.environ.update(backend.client_environment())
