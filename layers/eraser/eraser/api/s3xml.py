"""S3 (DeleteObject): errors as S3's XML error document with
``x-amz-request-id`` and ``x-amz-id-2``, and DeleteObject's 204."""

from __future__ import annotations

from xml.sax.saxutils import escape

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import request_id
from eraser.storage.objects import DeleteObjectResult

_ERRORS: list[tuple[type[Exception], int, str]] = [
    # Signature Version 4 failures first: several subclass the broader AuthError and ValidationFailed below.
    (errors.SignatureDoesNotMatch, 403, "SignatureDoesNotMatch"),
    (errors.RequestTimeTooSkewed, 403, "RequestTimeTooSkewed"),
    (errors.AuthorizationHeaderMalformed, 400, "AuthorizationHeaderMalformed"),
    (errors.AuthorizationQueryParametersError, 400, "AuthorizationQueryParametersError"),
    (errors.ContentSha256Mismatch, 400, "XAmzContentSHA256Mismatch"),
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
