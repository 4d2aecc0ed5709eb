"""Counts what the embedded backend is asked to do, by service and operation, from inside the bench's process.

Request counts are stable where times are not (the noise between runs is 8-17 %), so the bench checks them: a
purge of N objects should cost about N/1000 DeleteObjects calls and about N/1000 list calls, no single-key deletes,
and no more than one task-progress write per batch. The middleware wraps moto's WSGI application, so every client
(s5cmd, the AWS CLI, boto3 workers, the local stack's functions) is counted the same way.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload
from urllib.parse import parse_qs

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# The x-amz-target prefixes of the JSON protocols the bench meets.
_TARGET_SERVICES = {"DynamoDB": "dynamodb", "AmazonSQS": "sqs"}

Key = TypeVar("Key")
# Below this, a difference of two CPU-time sums is rounding, not work (thread_time has nanosecond resolution at best).
_NEGLIGIBLE_SECONDS = 1e-9

_BUCKET_GETS = {"versions": "ListObjectVersions", "versioning": "GetBucketVersioning",
                "uploads": "ListMultipartUploads", "location": "GetBucketLocation"}


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    # The bucket for S3, the table for DynamoDB, the queue for SQS (when it can be told).
    resource: str = ""
    # Keys in a DeleteObjects body.
    items: int = 0


def service_of(headers: dict[str, str], path: str) -> str:
    """The AWS service a request is for: the SigV4 credential scope, else the JSON protocol's target prefix."""
    if path.startswith("/moto-api"):
        return "moto-api"
    match = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    if match:
        return match.group(1)
    target = headers.get("x-amz-target", "")
    for prefix, service in _TARGET_SERVICES.items():
        if target.startswith(prefix):
            return service
    return "s3"


def s3_operation(method: str, path: str, query: str, host: str = "", body: bytes = b"") -> Operation:
    """Name an S3 request the way the S3 API reference does (path-style, or virtual-host-style via ``host``)."""
    parameters = parse_qs(query, keep_blank_values=True)
    parts = path.lstrip("/").split("/", 1)
    virtual_host = host.split(":", 1)[0]
    if virtual_host.count(".") >= 1 and not re.match(r"^[\d.]+$", virtual_host) and not virtual_host.startswith("s3."):
        bucket, key = virtual_host.split(".", 1)[0], path.lstrip("/")
    else:
        bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
    if not bucket:
        return Operation("s3", "ListBuckets")
    if key:
        name = {"DELETE": "DeleteObject", "PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject"}.get(
            method, f"{method}Object")
        if method == "POST":
            name = "CreateMultipartUpload" if "uploads" in parameters else "CompleteMultipartUpload"
        elif method == "DELETE" and "uploadId" in parameters:
            name = "AbortMultipartUpload"
        return Operation("s3", name, bucket)
    if method == "POST" and "delete" in parameters:
        return Operation("s3", "DeleteObjects", bucket, items=body.count(b"<Key>"))
    if method == "GET":
        if parameters.get("list-type") == ["2"]:
            return Operation("s3", "ListObjectsV2", bucket)
        for subresource, name in _BUCKET_GETS.items():
            if subresource in parameters:
                return Operation("s3", name, bucket)
        if parameters:
            # Another bucket subresource (acl, policy, tagging...), or a V1 listing with parameters.
            subresource = next(iter(parameters))
            if subresource in {"prefix", "marker", "delimiter", "max-keys", "encoding-type"}:
                return Operation("s3", "ListObjects", bucket)
            return Operation("s3", f"GetBucket{subresource.title()}", bucket)
        return Operation("s3", "ListObjects", bucket)
    name = {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(method, f"{method}Bucket")
    if method == "PUT" and parameters:
        name = f"PutBucket{next(iter(parameters)).title()}"
    return Operation("s3", name, bucket)


def json_operation(service: str, target: str, body: bytes) -> Operation:
    name = target.rsplit(".", 1)[-1] if target else "Unknown"
    resource = ""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {}
    if isinstance(document, dict):
        resource = str(document.get("TableName") or document.get("QueueUrl", "")).rsplit("/", 1)[-1]
        if not resource and name == "TransactWriteItems":
            tables = {next(iter(item.values())).get("TableName", "") for item in document.get("TransactItems", [])}
            resource = ",".join(sorted(tables))
    return Operation(service, name, resource)


def query_operation(service: str, body: bytes, query: str) -> Operation:
    """The query protocol (Action=...), which older SQS clients still send."""
    parameters = parse_qs(body.decode("utf-8", "replace")) if body else parse_qs(query)
    name = parameters.get("Action", ["Unknown"])[0]
    return Operation(service, name, parameters.get("QueueUrl", [""])[0].rsplit("/", 1)[-1])


def classify(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Operation:
    service = service_of(headers, path)
    if service == "s3":
        return s3_operation(method, path, query, headers.get("host", ""), body)
    if service == "moto-api":
        return Operation(service, path)
    target = headers.get("x-amz-target", "")
    if target:
        return json_operation(service, target, body)
    return query_operation(service, body, query)


def _needs_body(method: str, query: str, headers: dict[str, str]) -> bool:
    if headers.get("x-amz-target"):
        return True
    if method == "POST" and "delete" in parse_qs(query, keep_blank_values=True):
        return True
    return method == "POST" and "x-www-form-urlencoded" in headers.get("content-type", "")


class RequestLedger:
    """Thread-safe tallies of requests, of the keys DeleteObjects calls carried, and of the server's CPU time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.items: Counter[tuple[str, str, str]] = Counter()
        # CPU seconds of the server threads that handled the requests, keyed like ``requests`` (a 5xx answer's time
        # is under the operation's own key, not its ":500" one).
        self.server_seconds: dict[tuple[str, str, str], float] = {}

    def record(self, operation: Operation) -> None:
        key = (operation.service, operation.name, operation.resource)
        with self._lock:
            self.requests[key] += 1
            if operation.items:
                self.items[key] += operation.items

    def record_server_seconds(self, operation: Operation, seconds: float) -> None:
        key = (operation.service, operation.name, operation.resource)
        with self._lock:
            self.server_seconds[key] = self.server_seconds.get(key, 0.0) + seconds

    def snapshot(self) -> tuple[Counter[tuple[str, str, str]], Counter[tuple[str, str, str]],
                                dict[tuple[str, str, str], float]]:
        """Copies of (requests, items, server_seconds)."""
        with self._lock:
            return Counter(self.requests), Counter(self.items), dict(self.server_seconds)


@overload
def difference(after: Counter[Key], before: Counter[Key]) -> Counter[Key]: ...
@overload
def difference(after: Mapping[Key, float], before: Mapping[Key, float]) -> Mapping[Key, float]: ...
def difference(after: Mapping[Key, float], before: Mapping[Key, float]) -> Mapping[Key, float]:
    """What was added between two snapshots of a tally; keys whose value did not change (or changed by a rounding
    error, for float sums) are dropped. Counters give a Counter, float tallies a dict."""
    if isinstance(after, Counter) and isinstance(before, Counter):
        counts = Counter(after)
        counts.subtract(before)
        return Counter({key: value for key, value in counts.items() if value})
    seconds = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in {*after, *before}}
    return {key: value for key, value in seconds.items() if abs(value) > _NEGLIGIBLE_SECONDS}


class CountingMiddleware:
    """WSGI middleware in front of moto's application: classifies, records, then passes the request on unchanged."""

    def __init__(self, application: Callable[..., Iterable[bytes]], ledger: RequestLedger) -> None:
        self.application = application
        self.ledger = ledger

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items()
                   if name.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        method, path, query = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"), \
            environ.get("QUERY_STRING", "")
        body = b""
        if _needs_body(method, query, headers):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        try:
            operation = classify(method, path, query, headers, body)
        except Exception:  # noqa: BLE001 - counting must never break the backend it observes
            operation = Operation("unknown", method)
        self.ledger.record(operation)

        def counting_start_response(status: str, *args: Any) -> Any:
            # moto answers 5xx now and then; clients retry them, and the bench reports how often it happened.
            if status[:1] == "5":
                self.ledger.record(Operation(operation.service, f"{operation.name}:{status[:3]}", operation.resource))
            return start_response(status, *args)

        # werkzeug's threaded server handles each request in a thread of its own (a kept-alive connection's requests
        # one after another in the same thread), so this thread's CPU time in between is what moto spent on this
        # request: the application call and its response body, which is consumed here for that reason.
        started = time.thread_time()
        try:
            response = self.application(environ, counting_start_response)
            try:
                body_parts = list(response)
            finally:
                # The server would close the iterable it got; it now gets a list, so close the original here.
                close = getattr(response, "close", None)
                if close is not None:
                    close()
        except Exception:
            # moto's ListObjectVersions raises (a TypeError while it deep-copies the bucket) when a DeleteObjects in
            # the same bucket runs at the same time; the exception never reaches start_response, werkzeug answers
            # 500 itself and the client retries. Counted here, or those retries would look like extra list calls.
            self.ledger.record(Operation(operation.service, f"{operation.name}:500", operation.resource))
            raise
        finally:
            self.ledger.record_server_seconds(operation, time.thread_time() - started)
        return body_parts
