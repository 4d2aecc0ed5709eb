"""The bench's client of Eraser's bulk endpoint: request sizes, headers, and what counts as failed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.worker import eraser_bulk


@pytest.fixture
def fake_endpoint() -> Iterator[tuple[str, list[dict]]]:
    """Answers DELETE /v1/storage/objects with 200, or 500 when the first key is 'boom'; records every request."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_DELETE(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "key": self.headers["X-Api-Key"], "body": body})
            status = 500 if body["object_keys"][0] == "boom" else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if status == 200 else b'{"error": "boom"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_keys_go_in_requests_of_the_given_size_with_the_key_and_bucket(fake_endpoint):
    url, seen = fake_endpoint
    done, failed, failures = eraser_bulk(url, "erk_secret", "my bucket", [f"k{i}" for i in range(5)], 2, 2)
    assert (done, failed, failures) == (5, 0, [])
    assert sorted(len(request["body"]["object_keys"]) for request in seen) == [1, 2, 2]
    assert {request["path"] for request in seen} == {"/v1/storage/objects?bucket=my+bucket"}
    assert {request["key"] for request in seen} == {"erk_secret"}
    assert all(request["body"]["path"] == [] for request in seen)


def test_keys_of_a_failed_request_are_not_counted_as_deleted(fake_endpoint):
    url, _ = fake_endpoint
    done, failed, failures = eraser_bulk(url, "k", "b", ["a", "b", "boom", "c"], 2, 1)
    assert (done, failed) == (2, 2)
    assert failures == ['HTTP 500: {"error": "boom"}']
