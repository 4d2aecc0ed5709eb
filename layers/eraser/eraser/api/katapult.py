"""Katapult (organization trash purge_all): errors as ``{"code", "description", "detail"}``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import json_response

_ERRORS: list[tuple[type[Exception], int, str]] = [
    (errors.ValidationFailed, 400, "validation_error"),
    (errors.MissingCredentials, 401, "missing_api_token"),
    (errors.InvalidCredentials, 403, "invalid_api_token"),
    (errors.ExpiredCredentials, 403, "invalid_api_token"),
    (errors.ScopeNotGranted, 403, "scope_not_granted"),
    (errors.OrganizationSuspended, 403, "organization_suspended"),
    (errors.OrganizationNotActivated, 403, "organization_not_activated"),
    (errors.AuthError, 403, "permission_denied"),
    (errors.OrganizationNotFound, 404, "organization_not_found"),
    (errors.TaskNotFound, 404, "task_not_found"),
    (errors.NotFound, 404, "object_not_found"),
    (errors.Conflict, 409, "conflict"),
    (errors.RateLimited, 429, "rate_limit_reached"),
    (errors.TaskQueueingError, 503, "task_queueing_error"),
    (errors.ServiceUnavailable, 503, "service_unavailable"),
]


def _detail(error: errors.EraserError) -> dict[str, Any]:
    if isinstance(error, errors.ScopeNotGranted):
        return {"scope": error.scope}
    if isinstance(error, errors.RateLimited):
        return {"total_permitted": error.total_permitted}
    if isinstance(error, errors.TaskQueueingError):
        return {"details": str(error.details.get("reason", ""))}
    if isinstance(error, errors.ValidationFailed):
        return {"errors": error.errors}
    return {}


def error_response(error: Exception, event: APIGatewayProxyEvent) -> Response:
    for error_type, status, code in _ERRORS:
        if isinstance(error, error_type):
            assert isinstance(error, errors.EraserError)
            headers = {"Retry-After": str(error.retry_after)} if isinstance(error, errors.RateLimited) else {}
            return json_response(status, {"code": code, "description": error.message, "detail": _detail(error)},
                                 headers)
    return json_response(500, {"code": "internal_error", "description": "Internal error", "detail": {}})
