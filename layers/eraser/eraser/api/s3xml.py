"""S3 (DeleteObject): which requests are DeleteObject at all, errors as S3's XML error document with
``x-amz-request-id`` and ``x-amz-id-2``, and DeleteObject's 204."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import request_id
from eraser.storage.objects import DeleteObjectResult

_ERRORS: list[tuple[type[Exception], int, str]] = [
    (errors.BucketNotFound, 404, "NoSuchBucket"),
    (errors.NoSuchKey, 404, "NoSuchKey"),
    (errors.PreconditionFailed, 412, "PreconditionFailed"),
    (errors.AccessDenied, 403, "AccessDenied"),
    (errors.InvalidArgument, 400, "InvalidArgument"),
    (errors.KeyTooLong, 400, "KeyTooLongError"),
    (errors.ValidationFailed, 400, "InvalidRequest"),
    (errors.MissingCredentials, 403, "AccessDenied"),
    (errors.InvalidCredentials, 403, "InvalidAccessKeyId"),
    (errors.ExpiredCredentials, 400, "ExpiredToken"),
    (errors.OrganizationSuspended, 403, "AllAccessDisabled"),
    (errors.OrganizationNotActivated, 403, "AccountProblem"),
    (errors.AuthError, 403, "AccessDenied"),
    (errors.BucketStateConflict, 409, "InvalidBucketState"),
    (errors.Conflict, 409, "ConditionalRequestConflict"),
    (errors.OperationNotImplemented, 501, "NotImplemented"),
    (errors.NotFound, 404, "NoSuchKey"),
    (errors.RateLimited, 503, "SlowDown"),
    (errors.ServiceUnavailable, 503, "ServiceUnavailable"),
    (errors.TaskQueueingError, 503, "ServiceUnavailable"),
]


# DeleteObject's own query parameter. Anything else names another operation on the same path (S3 routes
# ``DELETE /{bucket}/{key}?tagging`` to DeleteObjectTagging, ``?uploadId=`` to AbortMultipartUpload, and so on)
# or one this route does not know: answered 501 NotImplemented, never taken for a DeleteObject.
VERSION_ID = "versionId"
# Smithy-generated SDKs (Go v2, JavaScript v3, Java v2, Rust...) add ``x-id=<operation>`` to every S3 request whose
# path alone does not tell the operation; botocore 1.44 (boto3, the AWS CLI) and aws-sdk-go v1 (s5cmd) add nothing.
OPERATION_ID = "x-id"
DELETE_OBJECT = "DeleteObject"
# The headers whose value decides what is deleted, or by whom: sent twice, they are ambiguous (API Gateway's
# ``headers`` keeps only the last value).
DECISIVE_HEADERS = frozenset({
    "if-match", "x-amz-if-match-size", "x-amz-if-match-last-modified-time", "x-amz-expected-bucket-owner",
    "x-amz-mfa", "x-amz-request-payer", "x-amz-bypass-governance-retention",
    "x-api-key", "api-key", "authorization",
})


def ensure_delete_object(event: APIGatewayProxyEvent) -> None:
    """Refuse, before anything else happens, a request that is not DeleteObject's own syntax: another operation's
    sub-resource or an unknown parameter (501 ``NotImplemented``), and a repeated query parameter or decisive header
    (400 ``InvalidArgument``: which value would count is a guess). API Gateway passes ``?tagging`` as
    ``{"tagging": ""}`` and keeps every repeat in the ``multiValue`` maps."""
    query = _all_values(event.multi_value_query_string_parameters, event.query_string_parameters)
    for name, values in query.items():
        if name == VERSION_ID or (name == OPERATION_ID and set(values) == {DELETE_OBJECT}):
            continue
        raise errors.OperationNotImplemented(
            f"This route implements DeleteObject only; the query parameter '{name}' names another operation or one "
            "it does not know")
    for name, values in query.items():
        if len(values) > 1:
            raise errors.InvalidArgument(f"The query parameter '{name}' is given {len(values)} times")
    headers: dict[str, int] = {}
    for name, values in _all_values(event.multi_value_headers, event.headers).items():
        headers[name.lower()] = headers.get(name.lower(), 0) + len(values)
    for name in sorted(DECISIVE_HEADERS):
        if headers.get(name, 0) > 1:
            raise errors.InvalidArgument(f"The header '{name}' is given {headers[name]} times")


def _all_values(multi_value: Mapping[str, Sequence[str]] | None,
                single_value: Mapping[str, str] | None) -> dict[str, Sequence[str]]:
    if multi_value:
        return {name: list(values or [""]) for name, values in multi_value.items()}
    return {name: [value] for name, value in (single_value or {}).items()}


def error_document(code: str, message: str, resource: str, request: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<Resource>{escape(resource)}</Resource><RequestId>{escape(request)}</RequestId></Error>")


def resource_of(event: APIGatewayProxyEvent) -> str:
    """``/bucket/key`` as S3 names it: the request path without the ``/s3`` mount point."""
    path = event.path or ""
    # A key with a lone surrogate (valid in the event's JSON, refused as a key) must not break the UTF-8 body.
    path = path.encode("utf-8", "replace").decode("utf-8")
    return path[len("/s3"):] if path.startswith("/s3/") else path


def error_response(error: Exception, event: APIGatewayProxyEvent) -> Response:
    status, code, message = 500, "InternalError", "We encountered an internal error. Please try again."
    for error_type, error_status, error_code in _ERRORS:
        if isinstance(error, error_type):
            assert isinstance(error, errors.EraserError)
            status, code, message = error_status, error_code, error.message
            break
    if isinstance(error, errors.RateLimited):
        message = "Reduce your request rate."
    request = request_id(event)
    headers = _identifying_headers(event)
    retry_after = getattr(error, "retry_after", None)
    if isinstance(error, (errors.RateLimited, errors.ServiceUnavailable)) and retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response(status_code=status, content_type="application/xml",
                    body=error_document(code, message, resource_of(event), request), headers=headers)


def delete_object_response(result: DeleteObjectResult, event: APIGatewayProxyEvent) -> Response:
    """204 with S3's headers and no ``Content-Type`` (S3 sends none with a 204). ``x-amz-delete-marker`` is only ever
    sent as ``true``, as S3 and moto do."""
    headers = _identifying_headers(event)
    if result.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    if result.version_id is not None:
        headers["x-amz-version-id"] = result.version_id
    if result.request_charged:
        headers["x-amz-request-charged"] = "requester"
    return Response(status_code=204, content_type=None, body=None, headers=headers)


def _identifying_headers(event: APIGatewayProxyEvent) -> dict[str, str]:
    """``x-amz-request-id`` and ``x-amz-id-2`` (S3's extended request id, which the QStorage page lists on every
    answer): API Gateway's ``extendedRequestId`` where there is one."""
    request = request_id(event)
    return {"x-amz-request-id": request, "x-amz-id-2": event.request_context.extended_request_id or request}
