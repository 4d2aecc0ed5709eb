"""Seahorse (bulk delete): ``{"code", "success", "data", "exception"}``; errors carry ``exception.error_code``
(the HTTP status times 1000 plus a sequence, as the page's ``400001`` and ``500001``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import json_response
from eraser.operations.objects import BulkDeleteResult
from eraser.operations.tasks import DryRun
from eraser.storage.retries import RETRY_AFTER_SECONDS
from eraser.tasks.model import Task, retry_after_seconds

_ERRORS: list[tuple[type[Exception], int, int, str]] = [
    (errors.RequestTooLarge, 400, 400002, "Bad Request"),
    (errors.ValidationFailed, 400, 400001, "Bad Request"),
    (errors.MissingCredentials, 401, 401001, "Unauthorized"),
    (errors.InvalidCredentials, 401, 401002, "Unauthorized"),
    (errors.ExpiredCredentials, 401, 401003, "Unauthorized"),
    (errors.AuthError, 403, 403001, "Forbidden"),
    (errors.NotFound, 404, 404001, "Not Found"),
    (errors.Conflict, 409, 409001, "Conflict"),
    (errors.RateLimited, 429, 429001, "Too Many Requests"),
    (errors.TaskQueueingError, 503, 503001, "Service Unavailable"),
    (errors.ServiceUnavailable, 503, 503002, "Service Unavailable"),
]


def error_response(error: Exception, event: APIGatewayProxyEvent) -> Response:
    for error_type, status, error_code, title in _ERRORS:
        if isinstance(error, error_type):
            assert isinstance(error, errors.EraserError)
            headers = {"Retry-After": str(retry_after)} if (retry_after := _retry_after(error)) is not None else {}
            return json_response(status, {"code": status, "success": False, "data": None,
                                          "exception": {"error_code": error_code,
                                                        "error_message": f"{title}: {error.message}"}}, headers)
    return json_response(500, {"code": 500, "success": False, "data": None,
                               "exception": {"error_code": 500001, "error_message": "Internal error: "}})


def _retry_after(error: errors.EraserError) -> int | None:
    """Seconds for ``Retry-After``: the rate limit's window, or how soon a request may be sent again after a 503
    (every 503 of this family carries one: it ran out of time, or a dependency was unavailable)."""
    if isinstance(error, errors.RateLimited):
        return error.retry_after
    if isinstance(error, errors.ServiceUnavailable):
        return error.retry_after or RETRY_AFTER_SECONDS
    if isinstance(error, errors.TaskQueueingError):
        return RETRY_AFTER_SECONDS
    return None


def bulk_delete_response(result: BulkDeleteResult) -> Response:
    """200 even when some keys failed: the failures are in ``data.errors``, as on the page. A request that became a
    task (over the synchronous limit, or out of time) is 202 with the task (``data.task``), ``Location`` and
    ``Retry-After``; ``data`` still lists what was deleted before the task took over."""
    data: dict[str, Any] = {"deleted_object_count": result.deleted_object_count,
                            "deleted_objects": result.deleted_objects,
                            "errors": [error.model_dump(mode="json") for error in result.errors]}
    if result.task is None:
        return json_response(200, {"code": 200, "success": True, "data": data, "exception": None})
    return bulk_delete_task_response(result.task, data)


def bulk_delete_task_response(task: Task, data: dict[str, Any], *, dry_run: bool = False) -> Response:
    location = f"/v1/tasks/{task.id}"
    headers = {"Location": location}
    if not task.is_finished:
        headers["Retry-After"] = str(retry_after_seconds(task))
    return json_response(202, {"code": 202, "success": True,
                               "data": {**data, "task": {"id": task.id, "status": task.status.value,
                                                         "href": location}},
                               "exception": None, **({"dry_run": True} if dry_run else {})}, headers)


def bulk_delete_dry_run_response(answer: DryRun) -> Response:
    """A dry run: the page's 200 shape with nothing deleted, and the plan beside ``data``; a request too large to
    plan within its time: 202 with the dry-run task, as a bulk delete that became a task."""
    data: dict[str, Any] = {"deleted_object_count": 0, "deleted_objects": [], "errors": []}
    if answer.plan is None:
        assert answer.task is not None
        return bulk_delete_task_response(answer.task, data, dry_run=True)
    return json_response(200, {"code": 200, "success": True, "data": data, "exception": None, "dry_run": True,
                               "plan": answer.plan.model_dump(mode="json")})
