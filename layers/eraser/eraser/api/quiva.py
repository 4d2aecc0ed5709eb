"""quiva.ai gateway (purge a bucket): ``{"message": "success"}`` and errors as ``{"error": "<code>"}``."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import json_response
from eraser.operations.tasks import DryRun
from eraser.tasks.model import Task, retry_after_seconds

# (status, code) by error type; the first matching base class wins.
_ERRORS: list[tuple[type[Exception], int, str]] = [
    (errors.ValidationFailed, 400, "validation_error"),
    (errors.MissingCredentials, 401, "unauthorized"),
    (errors.InvalidCredentials, 401, "unauthorized"),
    (errors.ExpiredCredentials, 401, "unauthorized"),
    (errors.AuthError, 403, "forbidden"),
    (errors.NotFound, 404, "not_found"),
    (errors.Conflict, 409, "conflict"),
    (errors.RateLimited, 429, "rate_limited"),
    (errors.TaskQueueingError, 503, "service_unavailable"),
    (errors.ServiceUnavailable, 503, "service_unavailable"),
]


def error_response(error: Exception, event: APIGatewayProxyEvent) -> Response:
    for error_type, status, code in _ERRORS:
        if isinstance(error, error_type):
            headers = {"Retry-After": str(error.retry_after)} if isinstance(error, errors.RateLimited) else {}
            return json_response(status, {"error": code, "message": getattr(error, "message", code)}, headers)
    return json_response(500, {"error": "internal_error", "message": "Internal error"})


# --- success bodies ----------------------------------------------------------------------------------------------------
def purge_response(task: Task) -> Response:
    """200 ``{"message": "success", "task": {"id", "status"}}``; a purge still running carries ``Retry-After``."""
    headers = {} if task.is_finished else {"Retry-After": str(retry_after_seconds(task))}
    return json_response(200, {"message": "success", "task": {"id": task.id, "status": task.status.value}}, headers)


def purge_dry_run_response(answer: DryRun) -> Response:
    """A dry run: 200 with the plan, or 202 with the dry-run task that makes it (polled like a purge's task)."""
    if answer.plan is not None:
        return json_response(200, {"message": "success", "dry_run": True,
                                   "plan": answer.plan.model_dump(mode="json")})
    assert answer.task is not None
    return json_response(202, {"message": "success", "dry_run": True,
                               "task": {"id": answer.task.id, "status": answer.task.status.value}},
                         {"Retry-After": str(retry_after_seconds(answer.task))})
