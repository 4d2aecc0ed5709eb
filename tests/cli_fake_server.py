"""A scripted stand-in for Eraser's HTTP API, for the ``eraser`` command's tests.

Each ``(method, path)`` answers its queued responses in turn, the last one again and again; anything unscripted is a
404. Every request is recorded (method, path with query, headers, body), so a test can assert what was sent and that
nothing was sent at all::

    with FakeEraser() as server:
        server.script("GET", "/v1/tasks/t1", 200, {"task_id": "t1", "status": "COMPLETED"})
        main(["--url", server.url, "task", "show", "t1"])
        assert server.requests[0].headers["x-api-key"] == KEY
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class FakeEraser:
    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def script(self, method: str, path: str, status: int, body: Any = None, *, headers: dict[str, str] | None = None,
               raw: bytes | None = None) -> FakeEraser:
        """Queue one answer to ``method path`` (``path`` without the query string)."""
        content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode("utf-8"))
        all_headers = {"Content-Type": "application/xml" if raw is not None else "application/json",
                       **(headers or {})}
        self.routes.setdefault((method, path), []).append(Reply(status, content, all_headers))
        return self

    def sent(self, method: str | None = None) -> list[Received]:
        return [request for request in self.requests if method is None or request.method == method]

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeEraser:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                              body))
                queue = fake.routes.get((self.command, self.path.split("?", 1)[0]))
                reply = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else Reply(
                    404, b'{"error": "unscripted"}', {"Content-Type": "application/json"})
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def task(task_id: str, status: str, *, deleted: int = 0, failed: int = 0, listed: int = 0,
         listing_complete: bool = False, rate: float | None = None, eta: int | None = None,
         failures: list[dict[str, Any]] | None = None, kind: str = "purge_bucket",
         plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``GET /v1/tasks/{id}`` body (the Mixpeek form the client reads); a dry-run task has ``plan`` once done."""
    fraction = deleted / listed if listed else 0.0
    extra = {} if plan is None else {"plan": plan}
    return {**extra, "task_id": task_id, "task_type": kind, "status": status, "bucket_name": "photos",
            "counts": {"deleted": deleted, "failed": failed, "versions_listed": listed, "bytes_freed": deleted * 10},
            "progress": {"objects_deleted": deleted, "objects_failed": failed, "versions_listed": listed,
                         "listing_complete": listing_complete, "fraction": fraction, "rate_per_second": rate,
                         "estimated_seconds_remaining": eta},
            "failures": failures or []}


def plan(*, complete: bool = True) -> dict[str, Any]:
    """A dry run's plan as docs/dry-run.md shows it: counts, what would be left and why, outcomes, a sample."""
    return {
        "complete": complete,
        "would_delete": {"objects": 12, "versions": 20, "delete_markers": 3, "multipart_uploads": 1, "bytes": 52428},
        "would_leave": {"object_lock_retention": 1, "legal_hold": 2, "newer_than_request": 0,
                        "newer_than_trash_retention": 0, "bucket": False},
        "outcomes": {"deleted": 22, "delete_marker_created": 0, "already_absent": 1, "blocked_by_retention": 3},
        "sample": [{"key": "a/b.txt", "version_id": "3HL4kqtJ", "outcome": "blocked_by_retention",
                    "reason": "legal_hold"},
                   {"key": "gone.txt", "version_id": None, "outcome": "already_absent", "reason": None}],
    }


def receipt_line(key: str, outcome: str) -> dict[str, Any]:
    return {"bucket": "photos", "key": key, "version_id": f"v-{key}", "size": 10, "etag": '"e"', "outcome": outcome,
            "chunk": 0, "time": "2026-12-07T12:00:00+00:00"}


def script_receipt(server: FakeEraser, task_id: str, parts: list[list[str]], *,
                   wrong_sha256_part: int | None = None) -> dict[str, Any]:
    """Script ``GET /v1/tasks/{task_id}/receipt`` (the shared receipt contract) and each part, gzip JSON Lines with
    one line per outcome given, served by the fake server itself at a pre-signed-looking URL. Part
    ``wrong_sha256_part`` is listed with a SHA-256 that is not its own. Returns the receipt."""
    listed = []
    for number, outcomes in enumerate(parts):
        key = f"receipts/{task_id}/parts/{number:08d}.jsonl.gz"
        lines = "".join(json.dumps(receipt_line(f"k{number}-{index}", outcome)) + "\n"
                        for index, outcome in enumerate(outcomes))
        content = gzip.compress(lines.encode("utf-8"), mtime=0)
        digest = hashlib.sha256(content if number != wrong_sha256_part else content + b"tampered").hexdigest()
        server.script("GET", f"/presigned/{key}", 200, raw=content, headers={"Content-Type": "application/gzip"})
        listed.append({"key": key, "sha256": digest, "lines": len(outcomes),
                       "url": f"{server.url}/presigned/{key}?X-Amz-Expires=3600&X-Amz-Signature=abc123"})
    counts: dict[str, int] = {}
    for outcomes in parts:
        for outcome in outcomes:
            counts[outcome] = counts.get(outcome, 0) + 1
    summary = {"task_id": task_id, "kind": "purge_bucket", "status": "completed",
               "counts": {"outcomes": counts, "bytes": 10 * sum(counts.values()), "lines": sum(counts.values())},
               "parts": [{name: part[name] for name in ("key", "sha256", "lines")} for part in listed]}
    receipt = {"task_id": task_id, "summary": summary, "summary_url": f"{server.url}/presigned/summary.json",
               "parts": listed, "expires_in": 3600}
    server.script("GET", f"/v1/tasks/{task_id}/receipt", 200, receipt)
    return receipt
