"""A real boto3 S3 client whose requests go to the functions' handlers instead of the network: each signed request
becomes the API Gateway event of the template route it matches, and the handler's answer goes back to botocore, which
parses it as it would S3's. So unit tests exercise what boto3 really sends (SigV4, CRC32 checksums, the XML, the
paginators) and what it makes of the answers."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from tests.support import api_event, invoke

HOST = "eraser.test"
ENDPOINT = f"http://{HOST}/s3"

# (method, has a key) -> (resource, function directory): the template's /s3 routes.
S3_ROUTES = {
    ("DELETE", True): ("/s3/{bucket}/{key+}", "delete_object"),
    ("POST", False): ("/s3/{bucket}", "delete_objects"),
    ("GET", False): ("/s3/{bucket}", "list_objects"),
    ("HEAD", False): ("/s3/{bucket}", "head_bucket"),
    ("HEAD", True): ("/s3/{bucket}/{key+}", "head_object"),
}
NOT_IMPLEMENTED = "s3_not_implemented"


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def event_of(request: AWSPreparedRequest) -> tuple[str, dict[str, Any]]:
    """The function directory and API Gateway event for a request botocore is about to send."""
    url = urlsplit(request.url)
    parts = url.path.removeprefix("/s3/").split("/", 1)
    bucket = unquote(parts[0])
    key = unquote(parts[1]) if len(parts) > 1 and parts[1] else None
    resource, directory = S3_ROUTES.get((request.method, key is not None),
                                        ("/s3/{bucket}/{key+}" if key is not None else "/s3/{bucket}",
                                         NOT_IMPLEMENTED))
    parameters = {"bucket": bucket, **({"key": key} if key is not None else {})}
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {"Host": HOST, **{name: value.decode("utf-8") if isinstance(value, bytes) else str(value)
                                for name, value in request.headers.items()}}
    event = api_event(request.method, resource, parameters, query=query or None, headers=headers,
                      body=None, content_type=None)
    if body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    event["requestContext"]["path"] = "/test" + url.path
    return directory, event


def s3_client(access_key_id: str, secret: str) -> Any:
    """boto3 configured as the documentation tells S3 clients to be: endpoint URL, path style, us-east-1, SigV4."""
    client = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=access_key_id,
                          aws_secret_access_key=secret, aws_session_token=None,
                          config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                        retries={"max_attempts": 1}))

    def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if not request.url.startswith(ENDPOINT):
            return None
        directory, event = event_of(request)
        answer = invoke(directory, event)
        headers = dict(answer.get("headers") or {})
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            headers[name] = values[-1]
        raw = answer.get("body") or ""
        data = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode("utf-8")
        if request.method == "HEAD":
            data = b""
        return AWSResponse(request.url, answer["statusCode"], headers, _Body(data))

    client.meta.events.register("before-send.s3", send)
    return client
