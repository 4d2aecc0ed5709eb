"""A fault-injecting HTTP proxy between the functions and the AWS endpoint (moto, or any other), on loopback.

On cue (``FaultProxy.cue(FaultPlan(...))``) it does to a fraction of calls what AWS does now and then:

- **duplicates SQS deliveries**: a ``SendMessage`` / ``SendMessageBatch`` is forwarded twice (SQS is at-least-once;
  both copies are delivered), and the client sees the first answer;
- **throttles S3**: answers 503 ``SlowDown`` to a whole call without forwarding it, and inside a ``DeleteObjects``
  answers ``<Error><Code>SlowDown</Code>`` for some of the keys, which it removes from the forwarded request so that
  they are really not deleted (S3's 200 with per-key errors);
- **drops connections**: resets the connection before forwarding (the request is lost) or, on S3, after (the work is
  done, the answer lost). The event source mapping's own calls (``ReceiveMessage``, ``DeleteMessage``...) are left
  alone: on AWS those are Lambda's, and a lost one only waits out the queue's visibility timeout (9-12 minutes here).

Every decision is a function of the plan's seed and of what is decided on: the n-th call of an operation for
whole-call faults, the key, version and the n-th time it was seen for per-key faults. The same seed gives the same
schedule; which concurrent request is the n-th is the interleaving's. Each kind of fault stops at its budget, so a
run is bounded. Standard library only: it runs in any of the project's environments.

``python -m local.fault_proxy --upstream http://127.0.0.1:PORT --seed 1 --slowdown 0.05`` runs one by itself; point
``AWS_ENDPOINT_URL`` at the URL it prints.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import re
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
# The calls Lambda's SQS event source mapping makes itself; see the module's docstring.
_EVENT_SOURCE_CALLS = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
                       "ChangeMessageVisibilityBatch", "GetQueueAttributes", "GetQueueUrl"}
_SQS_SENDS = {"SendMessage", "SendMessageBatch"}
SLOW_DOWN_MESSAGE = "Please reduce your request rate."


@dataclass(frozen=True)
class FaultPlan:
    """Fractions (0..1) of eligible calls or keys, and a budget per kind of fault."""

    seed: int = 0
    duplicate_sqs_sends: float = 0.0
    slowdown_calls: float = 0.0
    slowdown_keys: float = 0.0
    drop_connections: float = 0.0
    budget: int = 200


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": sum(self.requests.values()), "by_operation": dict(sorted(self.requests.items())),
                "faults": dict(sorted(self.faults.items())), "faults_total": sum(self.faults.values())}


def draw(seed: int, *parts: object) -> float:
    """A number in [0, 1) that depends only on ``seed`` and ``parts``."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode("utf-8", "backslashreplace"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def operation_of(method: str, target: str, query: str, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """(service, operation) of a request: the JSON protocols' target, the query protocol's Action, or S3's REST."""
    if target:
        service = "sqs" if target.startswith("AmazonSQS") else "dynamodb" if target.startswith("DynamoDB") else "other"
        return service, target.rsplit(".", 1)[-1]
    match = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    service = match.group(1) if match else "s3"
    if service != "s3":
        action = parse_qs(body.decode("utf-8", "replace")).get("Action") or parse_qs(query).get("Action") or ["?"]
        return service, action[0]
    parameters = parse_qs(query, keep_blank_values=True)
    if method == "POST" and "delete" in parameters:
        return "s3", "DeleteObjects"
    return "s3", f"{method} {','.join(sorted(parameters)) or '-'}"


# --- DeleteObjects -------------------------------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def delete_objects_entries(body: bytes) -> tuple[list[tuple[str, str | None]], bool]:
    """The (key, version id) entries of a DeleteObjects request body, and its Quiet flag."""
    root = ElementTree.fromstring(body)  # noqa: S314 - the functions' own requests, on loopback
    entries: list[tuple[str, str | None]] = []
    quiet = False
    for child in root:
        if _local(child.tag) == "Quiet":
            quiet = (child.text or "").strip().lower() == "true"
        elif _local(child.tag) == "Object":
            fields = {_local(item.tag): item.text or "" for item in child}
            entries.append((fields.get("Key", ""), fields.get("VersionId")))
    return entries, quiet


def delete_objects_body(entries: list[tuple[str, str | None]], quiet: bool) -> bytes:
    objects = "".join(f"<Object><Key>{escape(key)}</Key>"
                      + (f"<VersionId>{escape(version)}</VersionId>" if version is not None else "") + "</Object>"
                      for key, version in entries)
    quiet_element = "<Quiet>true</Quiet>" if quiet else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"{quiet_element}{objects}</Delete>").encode()


def slow_down_errors(entries: list[tuple[str, str | None]]) -> str:
    return "".join(f"<Error><Key>{escape(key)}</Key>"
                   + (f"<VersionId>{escape(version)}</VersionId>" if version is not None else "")
                   + f"<Code>SlowDown</Code><Message>{SLOW_DOWN_MESSAGE}</Message></Error>"
                   for key, version in entries)


def with_errors(result: bytes, errors: str) -> bytes:
    """A DeleteResult body with ``errors`` appended (an empty one if the call was not forwarded at all)."""
    text = result.decode("utf-8") if result else ""
    if "</DeleteResult>" in text:
        return text.replace("</DeleteResult>", errors + "</DeleteResult>", 1).encode()
    if re.search(r"<DeleteResult[^>]*/>", text):
        return re.sub(r"<DeleteResult([^>]*)/>", lambda m: f"<DeleteResult{m.group(1)}>{errors}</DeleteResult>",
                      text, count=1).encode()
    return (f'<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"{errors}</DeleteResult>").encode()


def _rechecksummed(headers: dict[str, str], body: bytes) -> dict[str, str]:
    """Headers for a rewritten body: Content-MD5 and the checksums the standard library can compute are redone,
    others dropped (S3 requires Content-MD5 or a checksum on DeleteObjects, so Content-MD5 is always sent)."""
    kept = {name: value for name, value in headers.items()
            if not name.lower().startswith(("x-amz-checksum-", "x-amz-sdk-checksum", "x-amz-trailer"))
            and name.lower() not in ("content-md5", "content-length", "x-amz-content-sha256")}
    kept["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - S3's own checksum
    kept["Content-Length"] = str(len(body))
    kept["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    if any(name.lower() == "x-amz-checksum-crc32" for name in headers):
        kept["x-amz-checksum-crc32"] = base64.b64encode(struct.pack(">I", zlib.crc32(body))).decode()
    return kept


# --- the proxy -----------------------------------------------------------------------------------------------------
class FaultProxy:
    """``FaultProxy(upstream).start()``; ``url`` is what clients use as their endpoint; ``cue(plan)`` starts faults,
    ``calm()`` stops them; ``tally()`` is what was seen and done since the last cue."""

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the fault proxy only relays to loopback, not {upstream}")
        self.upstream = (parts.hostname, parts.port or 80)
        self._lock = threading.Lock()
        self._plan: FaultPlan | None = None
        self._tally = Tally()
        self._ordinals: Counter[tuple[str, str]] = Counter()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def cue(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan, self._tally, self._ordinals = plan, Tally(), Counter()

    def calm(self) -> Tally:
        """Stop injecting; the tally of the cue that ends."""
        with self._lock:
            tally, self._plan = self._tally, None
            return tally

    def tally(self) -> Tally:
        with self._lock:
            return Tally(Counter(self._tally.requests), Counter(self._tally.faults))

    # --- decisions (under the lock: ordinals and budgets are shared by the request threads) ---------------------
    def decide(self, kind: str, operation: str, rate: float) -> bool:
        with self._lock:
            plan = self._plan
            if plan is None or rate <= 0:
                return False
            self._ordinals[(kind, operation)] += 1
            hit = draw(plan.seed, kind, operation, self._ordinals[(kind, operation)]) < rate
            if hit and self._tally.faults[kind] < plan.budget:
                self._tally.faults[kind] += 1
                return True
            return False

    def throttled_keys(self, entries: list[tuple[str, str | None]]) -> set[tuple[str, str | None]]:
        with self._lock:
            plan = self._plan
            if plan is None or plan.slowdown_keys <= 0:
                return set()
            chosen = set()
            for entry in entries:
                self._ordinals[("slowdown_key", repr(entry))] += 1
                seen = self._ordinals[("slowdown_key", repr(entry))]
                if (draw(plan.seed, "slowdown_key", entry, seen) < plan.slowdown_keys
                        and self._tally.faults["slowdown_key"] < plan.budget):
                    self._tally.faults["slowdown_key"] += 1
                    chosen.add(entry)
            return chosen

    def count(self, operation: str) -> None:
        with self._lock:
            self._tally.requests[operation] += 1

    @property
    def plan(self) -> FaultPlan | None:
        return self._plan


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        upstream_connection: http.client.HTTPConnection | None = None

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def finish(self) -> None:
            with contextlib.suppress(OSError):
                super().finish()

        def do_GET(self) -> None:
            self.relay()

        do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_GET

        def read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def relay(self) -> None:
            body = self.read_body()
            headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
            if body or self.command in ("POST", "PUT"):
                headers = {name: value for name, value in headers.items() if name.lower() != "content-length"}
                headers["Content-Length"] = str(len(body))
            lower = {name.lower(): value for name, value in headers.items()}
            query = urlsplit(self.path).query
            service, name = operation_of(self.command, lower.get("x-amz-target", ""), query, lower, body)
            operation = f"{service}:{name}"
            proxy.count(operation)
            plan = proxy.plan
            if plan is None or name in _EVENT_SOURCE_CALLS:
                self.answer(*self.forward(headers, body))
                return
            if service in ("s3", "dynamodb", "sqs") and proxy.decide("drop_before", operation, plan.drop_connections):
                self.drop()
                return
            if service == "s3" and proxy.decide("slowdown_call", operation, plan.slowdown_calls):
                self.slow_down()
                return
            if operation == "s3:DeleteObjects" and plan.slowdown_keys > 0:
                self.delete_objects(headers, body)
                return
            status, response_headers, response_body = self.forward(headers, body)
            if service == "sqs" and name in _SQS_SENDS and status == 200 and \
                    proxy.decide("duplicate_send", operation, plan.duplicate_sqs_sends):
                self.forward(headers, body)
            if service == "s3" and proxy.decide("drop_after", operation, plan.drop_connections):
                self.drop()
                return
            self.answer(status, response_headers, response_body)

        def delete_objects(self, headers: dict[str, str], body: bytes) -> None:
            entries, quiet = delete_objects_entries(body)
            throttled = proxy.throttled_keys(entries)
            if not throttled:
                self.answer(*self.forward(headers, body))
                return
            kept = [entry for entry in entries if entry not in throttled]
            errors = slow_down_errors([entry for entry in entries if entry in throttled])
            if not kept:
                self.answer(200, [("Content-Type", "application/xml")], with_errors(b"", errors))
                return
            rewritten = delete_objects_body(kept, quiet)
            status, response_headers, response_body = self.forward(_rechecksummed(headers, rewritten), rewritten)
            if status != 200:
                self.answer(status, response_headers, response_body)
                return
            self.answer(status, response_headers, with_errors(response_body, errors))

        def forward(self, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            for attempt in range(2):
                connection = self.upstream_connection or http.client.HTTPConnection(*proxy.upstream, timeout=120)
                self.upstream_connection = connection
                try:
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    return response.status, response.getheaders(), payload
                except (ConnectionError, http.client.HTTPException, TimeoutError):
                    # A kept-alive upstream connection the server closed meanwhile: once more on a new one.
                    connection.close()
                    self.upstream_connection = None
                    if attempt == 1:
                        raise
            raise AssertionError("unreachable")

        def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() in _HOP_BY_HOP or (name.lower() == "content-length" and self.command != "HEAD"):
                    continue
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def slow_down(self) -> None:
            request_id = hashlib.sha1(f"{time.time_ns()}".encode()).hexdigest()[:16].upper()  # noqa: S324 - an id
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                    f"<Message>{SLOW_DOWN_MESSAGE}</Message><RequestId>{request_id}</RequestId></Error>").encode()
            self.answer(503, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body)

        def drop(self) -> None:
            # SO_LINGER 0: close with a reset, as a load balancer or a crashed host does, not an orderly FIN.
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            self.close_connection = True

    return Relay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.fault_proxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, help="the AWS endpoint to relay to (loopback)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duplicate-sqs-sends", type=float, default=0.0)
    parser.add_argument("--slowdown-calls", type=float, default=0.0)
    parser.add_argument("--slowdown-keys", type=float, default=0.0)
    parser.add_argument("--drop-connections", type=float, default=0.0)
    parser.add_argument("--budget", type=int, default=200)
    args = parser.parse_args(argv)
    proxy = FaultProxy(args.upstream, port=args.port).start()
    proxy.cue(FaultPlan(seed=args.seed, duplicate_sqs_sends=args.duplicate_sqs_sends,
                        slowdown_calls=args.slowdown_calls, slowdown_keys=args.slowdown_keys,
                        drop_connections=args.drop_connections, budget=args.budget))
    print(json.dumps({"url": proxy.url, "plan": asdict(proxy.plan) if proxy.plan else None}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    print(json.dumps(proxy.calm().as_dict()), flush=True)
    proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
