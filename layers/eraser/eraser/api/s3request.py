"""The S3 endpoints' view of an API Gateway request: what an S3 client signed, and who it is.

What the client signed is the path of the URL it sent: ``/s3/<bucket>/<key>`` when it talks to the API's own URL
without a stage (the local stack, a custom domain mapped at the root), ``/<stage>/s3/<bucket>/<key>`` through an
``execute-api`` URL. API Gateway gives the route's resource (``/s3/{bucket}/{key+}``), the decoded path parameters,
and ``requestContext.path`` (the path with the stage, as received); the canonical URI is rebuilt from the resource
and the decoded parameters, SigV4-encoded, with and without the prefix ``requestContext.path`` carries before the
resource. Both candidates name the very bucket and key the function acts on, so a signature can never be replayed
onto another object through an encoding ambiguity (``a%41`` vs ``aA``).
"""

from __future__ import annotations

import base64
import binascii
import re

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser.auth import Principal, Scope, authenticate
from eraser.errors import ValidationFailed
from eraser.sigv4 import SignedRequest, uri_encode

_PLACEHOLDER = re.compile(r"\{([^}+]+)(\+?)\}")


def canonical_uris(event: APIGatewayProxyEvent) -> tuple[str, ...]:
    resource = event.resource or ""
    parameters = event.path_parameters or {}
    if not resource.startswith("/") or any(name not in parameters for name, _ in _PLACEHOLDER.findall(resource)):
        # Not a routed API Gateway event (a hand-made one): the decoded path is all there is.
        return (uri_encode(event.path or "/", keep_slash=True),)
    path = _PLACEHOLDER.sub(lambda match: uri_encode(parameters[match.group(1)], keep_slash=bool(match.group(2))),
                            resource)
    candidates = [path]
    received = event.request_context.path or ""
    mount = "/" + resource.lstrip("/").split("/", 1)[0]
    at = received.find(mount + "/") if received.find(mount + "/") >= 0 else received.find(mount)
    if at > 0:
        candidates.append(received[:at] + path)
    return tuple(candidates)


def _body(event: APIGatewayProxyEvent) -> bytes:
    if event.body is None:
        return b""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(event.body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("The request body is not valid base64") from None
    return event.body.encode("utf-8", "surrogateescape")


def signed_request_of(event: APIGatewayProxyEvent) -> SignedRequest:
    headers: dict[str, tuple[str, ...]] = {}
    multi_headers = event.multi_value_headers or {name: [value] for name, value in (event.headers or {}).items()}
    for name, values in multi_headers.items():
        headers[name.lower()] = (*headers.get(name.lower(), ()), *(value for value in values or () if value is not None))
    query = tuple((name, value) for name, values in (event.multi_value_query_string_parameters or {}).items()
                  for value in values or ())
    if not query and event.query_string_parameters:
        query = tuple(event.query_string_parameters.items())
    return SignedRequest(method=event.http_method, canonical_uris=canonical_uris(event), query=query,
                         headers=headers, body=_body(event))


def authenticate_s3(event: APIGatewayProxyEvent, required: Scope) -> Principal:
    """The caller of an S3 endpoint: a SigV4-signed request (S3 clients), or an API key or bearer token."""
    return authenticate({name.lower(): value for name, value in (event.headers or {}).items() if value is not None},
                        required, signed_request=signed_request_of(event))
