"""The S3 endpoints' view of an API Gateway request: whether it is the operation the route implements, what an S3
client signed, who it is, and what its ``x-amz-*`` and conditional headers ask for (read here into the typed
requests of ``eraser.storage``, which never sees a header).

What the client signed is the path of the URL it sent: ``/s3/<bucket>/<key>`` when it talks to the API's own URL
without a stage (the local stack, a custom domain mapped at the root), ``/<stage>/s3/<bucket>/<key>`` through an
``execute-api`` URL. API Gateway gives the route's resource (``/s3/{bucket}/{key+}``), the decoded path parameters,
and ``requestContext.path`` (the path with the stage, as received); the canonical URI is rebuilt from the resource
and the decoded parameters, SigV4-encoded, with and without the prefix ``requestContext.path`` carries before the
resource. Both candidates name the very bucket and key the function acts on, so a signature can never be replayed
onto another object through an encoding ambiguity (``a%41`` vs ``aA``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import ValidationError

from eraser.api.http import body_bytes, headers_of, repeated_query_parameters
from eraser.api.s3body import DeleteDocument
from eraser.auth import Principal, Scope, authenticate
from eraser.errors import InvalidArgument, OperationNotImplemented
from eraser.sigv4 import AUTHENTICATION_QUERY_PARAMETERS, SignedRequest, uri_encode
from eraser.storage.conditions import DeleteConditions, as_utc, normalize_etag
from eraser.storage.delete_objects import DeleteObjectsEntry, DeleteObjectsRequest
from eraser.storage.gateway import REQUESTER
from eraser.storage.objects import DeleteObjectRequest

_PLACEHOLDER = re.compile(r"\{([^}+]+)(\+?)\}")
# S3 types sizes as 64-bit longs (19 digits): a longer number matches no object, and past 4,300 digits int()
# refuses to parse it at all (a ValueError, which was a 500).
_SIZE = re.compile(r"^[0-9]{1,19}$")
Parsed = TypeVar("Parsed")


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


def signed_request_of(event: APIGatewayProxyEvent) -> SignedRequest:
    headers: dict[str, tuple[str, ...]] = {}
    for name, values in _all_values(event.multi_value_headers, event.headers).items():
        headers[name.lower()] = (*headers.get(name.lower(), ()), *values)
    query = tuple((name, value)
                  for name, values in _all_values(event.multi_value_query_string_parameters,
                                                  event.query_string_parameters).items()
                  for value in values)
    return SignedRequest(method=event.http_method, canonical_uris=canonical_uris(event), query=query,
                         headers=headers, body=body_bytes(event))


def authenticate_s3(event: APIGatewayProxyEvent, required: Scope) -> Principal:
    """The caller of an S3 endpoint: a SigV4-signed request (S3 clients), or an API key or bearer token."""
    return authenticate(headers_of(event), required, signed_request=signed_request_of(event))


# DeleteObject's own query parameter. Anything else names another operation on the same path (S3 routes
# ``DELETE /{bucket}/{key}?tagging`` to DeleteObjectTagging, ``?uploadId=`` to AbortMultipartUpload, and so on)
# or one this route does not know: answered 501 NotImplemented, never taken for a DeleteObject.
VERSION_ID = "versionId"
# Smithy-generated SDKs (Go v2, JavaScript v3, Java v2, Rust...) add ``x-id=<operation>`` to every S3 request whose
# path alone does not tell the operation; botocore 1.44 (boto3, the AWS CLI) and aws-sdk-go v1 (s5cmd) add nothing.
OPERATION_ID = "x-id"
DELETE_OBJECT = "DeleteObject"
DELETE_OBJECTS = "DeleteObjects"
LIST_OBJECTS_V2 = "ListObjectsV2"
LIST_OBJECT_VERSIONS = "ListObjectVersions"
GET_BUCKET_LOCATION = "GetBucketLocation"
HEAD_OBJECT = "HeadObject"
HEAD_BUCKET = "HeadBucket"
# Each GET /{bucket} operation's own query parameters; the first names the operation.
BUCKET_GET_OPERATIONS: dict[str, tuple[str, ...]] = {
    LIST_OBJECTS_V2: ("list-type", "prefix", "delimiter", "continuation-token", "start-after", "max-keys",
                      "encoding-type", "fetch-owner"),
    LIST_OBJECT_VERSIONS: ("versions", "prefix", "delimiter", "key-marker", "version-id-marker", "max-keys",
                           "encoding-type"),
    GET_BUCKET_LOCATION: ("location",),
}
# Eraser's dry run on the S3 routes (S3's syntax has no place for one).
DRY_RUN_HEADER = "x-eraser-dry-run"
# The headers whose value decides what is deleted, or by whom: sent twice, they are ambiguous (API Gateway's
# ``headers`` keeps only the last value). Twice-sent dry-run headers ("true" then "false") would otherwise delete.
DECISIVE_HEADERS = frozenset({
    DRY_RUN_HEADER,
    "if-match", "x-amz-if-match-size", "x-amz-if-match-last-modified-time", "x-amz-expected-bucket-owner",
    "x-amz-mfa", "x-amz-request-payer", "x-amz-bypass-governance-retention",
    "x-api-key", "api-key", "authorization",
    # DeleteObjects' integrity: a second digest header would leave which one was checked to chance.
    "content-md5", "x-amz-sdk-checksum-algorithm", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256",
})


def ensure_delete_object(event: APIGatewayProxyEvent) -> None:
    """Refuse, before anything else happens, a request that is not DeleteObject's own syntax (see
    ``ensure_operation``)."""
    ensure_operation(event, DELETE_OBJECT, {VERSION_ID})


def ensure_operation(event: APIGatewayProxyEvent, operation: str, parameters: Collection[str],
                     required: Collection[str] = (), *, bodiless: bool = False) -> None:
    """Refuse, before anything else happens, a request that is not ``operation``'s own syntax: another operation's
    sub-resource or an unknown parameter, or a missing ``required`` one (501 ``NotImplemented``), and a repeated query
    parameter or decisive header (400 ``InvalidArgument``: which value would count is a guess). On a ``bodiless``
    answer (HEAD) an unknown parameter is 400 ``InvalidArgument`` as well. API Gateway passes
    ``?tagging`` as ``{"tagging": ""}`` and keeps every repeat in the ``multiValue`` maps."""
    query = _all_values(event.multi_value_query_string_parameters, event.query_string_parameters)
    for name, values in query.items():
        if (name in parameters or name in AUTHENTICATION_QUERY_PARAMETERS
                or (name == OPERATION_ID and set(values) == {operation})):
            continue
        message = (f"This route implements {operation} only; the query parameter '{name}' names another operation "
                   "or one it does not know")
        # A HEAD answer has no body, so a 501 could not say it is S3's NotImplemented: a 400 tells a client plainly.
        raise InvalidArgument(message) if bodiless else OperationNotImplemented(message)
    for name in required:
        if name not in query:
            raise OperationNotImplemented(f"This route implements {operation} only, which takes '?{name}'")
    for name, count in sorted(repeated_query_parameters(event).items()):
        raise InvalidArgument(f"The query parameter '{name}' is given {count} times")
    headers: dict[str, int] = {}
    for name, values in _all_values(event.multi_value_headers, event.headers).items():
        headers[name.lower()] = headers.get(name.lower(), 0) + len(values)
    for name in sorted(DECISIVE_HEADERS):
        if headers.get(name, 0) > 1:
            raise InvalidArgument(f"The header '{name}' is given {headers[name]} times")


def _all_values(multi_value: Mapping[str, Sequence[str]] | None,
                single_value: Mapping[str, str] | None) -> dict[str, Sequence[str]]:
    if multi_value:
        return {name: list(values or [""]) for name, values in multi_value.items()}
    return {name: [value] for name, value in (single_value or {}).items()}


def delete_objects_request(event: APIGatewayProxyEvent, document: DeleteDocument) -> DeleteObjectsRequest:
    headers = headers_of(event)
    return DeleteObjectsRequest(
        bucket=(event.path_parameters or {}).get("bucket", ""),
        entries=[DeleteObjectsEntry(entry.key, entry.version_id, entry.conditional) for entry in document.entries],
        quiet=document.quiet,
        expected_bucket_owner=_optional(headers, "x-amz-expected-bucket-owner", str.strip),
        bypass_governance_retention=_optional(headers, "x-amz-bypass-governance-retention", parse_bypass) or False)


def delete_object_request(path_parameters: Mapping[str, str], query: Mapping[str, str],
                          headers: Mapping[str, str]) -> DeleteObjectRequest:
    """DeleteObject's request from API Gateway's (already URL-decoded) path parameters, the query string and
    lower-case headers. Nothing is decoded again: a key holding a literal ``%41`` stays ``%41``."""
    conditions = DeleteConditions(
        if_match=_optional(headers, "if-match", parse_if_match),
        size=_optional(headers, "x-amz-if-match-size", parse_size),
        last_modified=_optional(headers, "x-amz-if-match-last-modified-time", parse_http_date),
    )
    try:
        return DeleteObjectRequest(
            bucket=path_parameters.get("bucket", ""),
            key=path_parameters.get("key", ""),
            version_id=query.get(VERSION_ID),
            conditions=conditions,
            expected_bucket_owner=_optional(headers, "x-amz-expected-bucket-owner", str.strip),
            mfa=headers.get("x-amz-mfa"),
            requester_pays=_optional(headers, "x-amz-request-payer", parse_requester) or False,
            bypass_governance_retention=_optional(headers, "x-amz-bypass-governance-retention", parse_bypass) or False,
        )
    except ValidationError as error:
        raise InvalidArgument(f"Invalid request: {error.errors(include_url=False)[0]['msg']}") from error


def _optional(headers: Mapping[str, str], name: str, parse: Callable[[str], Parsed]) -> Parsed | None:
    value = headers.get(name)
    return None if value is None else parse(value)


def parse_if_match(value: str) -> str:
    etag = normalize_etag(value)
    if not etag:
        raise InvalidArgument("If-Match must be an ETag (quoted or not) or '*'")
    return value.strip()


def parse_size(value: str) -> int:
    """``x-amz-if-match-size``: a non-negative integer of bytes, digits only (no sign, no exponent, no spaces), at
    most 19 of them."""
    if not _SIZE.match(value):
        raise InvalidArgument("x-amz-if-match-size must be a non-negative integer (bytes)")
    return int(value)


def parse_http_date(value: str) -> datetime:
    """``x-amz-if-match-last-modified-time``: an RFC 1123 date (``Fri, 01 Mar 2024 12:00:00 GMT``, what S3 itself
    sends as ``Last-Modified``) or an ISO 8601 timestamp (``2024-03-01T12:00:00.000Z``, the QStorage page's example).
    A date without a zone is UTC."""
    text = value.strip()
    parsed: datetime | None = None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidArgument("x-amz-if-match-last-modified-time must be an HTTP date (RFC 1123) or ISO 8601 time")
    return as_utc(parsed)


def parse_requester(value: str) -> bool:
    if value.strip().lower() != REQUESTER:
        raise InvalidArgument("x-amz-request-payer accepts only 'requester'")
    return True


def parse_bypass(value: str) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise InvalidArgument("x-amz-bypass-governance-retention must be 'true' or 'false'")
    return text == "true"


def bucket_get_operation(event: APIGatewayProxyEvent) -> str:
    """Which read GET /{bucket} asks for, its syntax checked (``ensure_operation``). ``?list-type=2`` is
    ListObjectsV2, ``?versions`` ListObjectVersions, ``?location`` GetBucketLocation; anything else (ListObjects v1,
    ``?acl``, ``?lifecycle``, ``?policy``...) is 501."""
    query = event.query_string_parameters or {}
    if query.get("list-type") == "2":
        operation = LIST_OBJECTS_V2
    elif "versions" in query:
        operation = LIST_OBJECT_VERSIONS
    elif "location" in query:
        operation = GET_BUCKET_LOCATION
    else:
        raise OperationNotImplemented("This endpoint implements ListObjectsV2 (?list-type=2), ListObjectVersions "
                                      "(?versions) and GetBucketLocation (?location) on GET /{bucket}")
    parameters = BUCKET_GET_OPERATIONS[operation]
    ensure_operation(event, operation, parameters, required=parameters[:1])
    return operation


def max_keys_of(query: Mapping[str, str]) -> int:
    text = query.get("max-keys")
    if text is None:
        return 1000
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise InvalidArgument("Provided max-keys not an integer or within integer range")
    return min(int(text), 1000)


def encoding_type_of(query: Mapping[str, str]) -> str | None:
    value = query.get("encoding-type")
    if value is not None and value != "url":
        raise InvalidArgument("Invalid Encoding Method specified in Request")
    return value



def dry_run_of_headers(headers: Mapping[str, str]) -> bool:
    """Eraser's dry-run header on the S3 routes (S3's own syntax has no place for it): ``true`` or ``false``, in any
    case; anything else is S3's ``InvalidArgument`` before anything happens."""
    value = headers.get(DRY_RUN_HEADER)
    if value is None:
        return False
    flag = value.strip().lower()
    if flag not in ("true", "false"):
        raise InvalidArgument(f"{DRY_RUN_HEADER} must be true or false")
    return flag == "true"
