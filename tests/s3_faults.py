"""A throttling S3, as a synchronous request's single-attempt client sees it, and a Lambda clock that only moves
when S3 answers or Eraser waits.

``ThrottledS3`` hooks the client's ``before-call`` event (the last one whose answer replaces the request: every
``before-send`` handler runs, moto's included, so answering there would still let moto act) and answers with the
bytes S3 sends, parsed by botocore's own parser for the operation: a 503 ``SlowDown`` error document for the
operations it throttles, and for DeleteObjects a 200 ``DeleteResult`` whose throttled keys are ``<Error>`` entries
with ``SlowDown`` while the other keys are really deleted (through the test's own client). The code under test sees
what AWS would give it. Requests it lets through reach moto unchanged.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import pytest
from botocore.awsrequest import AWSResponse
from botocore.parsers import create_parser

from eraser import aws
from eraser.storage import retries
from tests.support import LambdaContext

SLOW_DOWN_MESSAGE = "Please reduce your request rate."


class CountdownContext(LambdaContext):
    """A Lambda context whose time passes only when S3 answers or Eraser waits between attempts (no real sleeping)."""

    def advance(self, seconds: float) -> None:
        self._remaining_ms -= int(seconds * 1000)


@dataclass
class ThrottledS3:
    backend: Any
    context: CountdownContext
    # How long each S3 call takes on the context's clock (S3 under load is slow to say SlowDown too).
    call_seconds: float = 3.0
    # Operations (botocore names: ListObjectsV2, DeleteObjects, DeleteObject) answered 503 SlowDown every time.
    slow_down_operations: set[str] = field(default_factory=set)
    # Keys every DeleteObjects call reports as per-key SlowDown (inside a 200 answer).
    throttled_keys: set[str] = field(default_factory=set)
    # How many DeleteObjects answers throttle ``throttled_keys`` before S3 recovers.
    throttled_answers: float = math.inf
    calls: list[str] = field(default_factory=list)
    _parameters: dict[str, Any] = field(default_factory=dict)

    def remember_parameters(self, params: dict[str, Any], **_: Any) -> None:
        self._parameters = dict(params)

    def answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        operation = model.name
        self.calls.append(operation)
        self.context.advance(self.call_seconds)
        if operation in self.slow_down_operations:
            return _response(model, 503, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                                           f"<Message>{SLOW_DOWN_MESSAGE}</Message><RequestId>FAULT</RequestId>"
                                           "<HostId>FAULT</HostId></Error>")
        if operation == "DeleteObjects" and self.throttled_keys and self.throttled_answers > 0:
            self.throttled_answers -= 1
            return self._delete_objects_in_part(model, params["body"])
        return None

    def _delete_objects_in_part(self, model: Any, request_body: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        keys = _keys_of_delete_body(request_body)
        throttled = [key for key in keys if key in self.throttled_keys]
        if not throttled:
            return None
        passing = [key for key in keys if key not in self.throttled_keys]
        deleted: list[dict[str, Any]] = []
        if passing:
            deleted = self.backend.delete_objects(Bucket=self._parameters["Bucket"], Delete={
                "Objects": [{"Key": key} for key in passing], "Quiet": False}).get("Deleted", [])
        body = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"]
        body += [f"<Deleted><Key>{escape(item['Key'])}</Key></Deleted>" for item in deleted]
        body += [f"<Error><Key>{escape(key)}</Key><Code>SlowDown</Code><Message>{SLOW_DOWN_MESSAGE}</Message></Error>"
                 for key in throttled]
        body.append("</DeleteResult>")
        return _response(model, 200, "".join(body))

    def count(self, operation: str) -> int:
        return self.calls.count(operation)


def _keys_of_delete_body(body: Any) -> list[str]:
    raw = body.read() if hasattr(body, "read") else body
    if hasattr(body, "seek"):
        body.seek(0)
    root = ElementTree.fromstring(raw)  # noqa: S314 - botocore's own request body
    return [element.text or "" for element in root.iter() if element.tag.endswith("}Key") or element.tag == "Key"]


def _response(model: Any, status: int, body: str) -> tuple[AWSResponse, dict[str, Any]]:
    headers = {"Content-Type": "application/xml", "x-amz-request-id": "FAULT", "x-amz-id-2": "FAULT"}
    raw = body.encode("utf-8")
    parsed = create_parser("rest-xml").parse({"status_code": status, "headers": headers, "body": raw},
                                             model.output_shape)
    return AWSResponse("https://s3.amazonaws.com", status, headers, None), parsed


@contextmanager
def throttled_s3(backend: Any, context: CountdownContext, monkeypatch: pytest.MonkeyPatch,
                 **faults: Any) -> Iterator[ThrottledS3]:
    """Faults on the single-attempt client (what API requests use); Eraser's waits between attempts move
    ``context``'s clock instead of sleeping. The task engine's own client is untouched."""
    throttle = ThrottledS3(backend, context, **faults)
    client = aws.s3_single_attempt()
    monkeypatch.setattr(retries, "wait", context.advance)
    handlers: list[tuple[str, Callable[..., Any]]] = [("before-parameter-build.s3", throttle.remember_parameters),
                                                      ("before-call.s3", throttle.answer)]
    for event, handler in handlers:
        client.meta.events.register_first(event, handler)
    try:
        yield throttle
    finally:
        for event, handler in handlers:
            client.meta.events.unregister(event, handler)
