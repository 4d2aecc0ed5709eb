"""Mixpeek (delete a bucket, tasks): errors as ``{"success": false, "status", "error": {message, type, code,
details}}``; validation errors are 422 and also carry FastAPI's ``detail`` list, which Mixpeek's clients read."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import json_response

_ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (errors.ValidationFailed, 422, "ValidationError", "validation_error"),
    (errors.MissingCredentials, 401, "UnauthorizedError", "missing_credentials"),
    (errors.InvalidCredentials, 401, "UnauthorizedError", "invalid_credentials"),
    (errors.ExpiredCredentials, 401, "UnauthorizedError", "expired_credentials"),
    (errors.ScopeNotGranted, 403, "ForbiddenError", "scope_not_granted"),
    (errors.OrganizationSuspended, 403, "ForbiddenError", "organization_suspended"),
    (errors.OrganizationNotActivated, 403, "ForbiddenError", "organization_not_activated"),
    (errors.AuthError, 403, "ForbiddenError", "permission_denied"),
    (errors.BucketNotFound, 404, "NotFoundError", "bucket_not_found"),
    (errors.TaskNotFound, 404, "NotFoundError", "task_not_found"),
    (errors.NotFound, 404, "NotFoundError", "not_found"),
    (errors.IdempotencyKeyReused, 409, "ConflictError", "idempotency_key_reused"),
    (errors.Conflict, 409, "ConflictError", "conflict"),
    (errors.RateLimited, 429, "RateLimitError", "rate_limit_reached"),
    (errors.TaskQueueingError, 503, "ServiceUnavailableError", "task_queueing_error"),
    (errors.ServiceUnavailable, 503, "ServiceUnavailableError", "service_unavailable"),
]


def error_response(error: Exception, event: APIGatewayProxyEvent) -> Response:
    for error_type, status, type_name, code in _ERRORS:
        if isinstance(error, error_type):
            assert isinstance(error, errors.EraserError)
            details = dict(error.details) or None
            body: dict[str, object] = {"success": False, "status": status,
                                       "error": {"message": error.message, "type": type_name, "code": code,
                                                 "details": details}}
            headers: dict[str, str] = {}
            if isinstance(error, errors.ValidationFailed):
                body["error"] = {**body["error"], "details": {"errors": error.errors}}  # type: ignore[dict-item]
                body["detail"] = error.errors
            if isinstance(error, errors.RateLimited):
                headers["Retry-After"] = str(error.retry_after)
            return json_response(status, body, headers)
    return json_response(500, {"success": False, "status": 500,
                               "error": {"message": "Internal server error", "type": "InternalServerError",
                                         "code": None, "details": None}})
