"""Katapult (organization trash purge_all): errors as ``{"code", "description", "detail"}``.

Statuses follow the page: it lists the responses 200, 400, 403, 404, 406, 429, 503 and then their bodies in that
order, so ``missing_api_token`` is the 400 and ``task_queueing_error`` the 406; a client written against the page
branches on those codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import json_response
from eraser.operations.tasks import DryRun
from eraser.storage.plan import Plan
from eraser.tasks.model import Task, TaskKind, TaskStatus, retry_after_seconds
from eraser.trash import SCHEDULE_REQUESTER

_ERRORS: list[tuple[type[Exception], int, str]] = [
    (errors.ValidationFailed, 400, "validation_error"),
    (errors.MissingCredentials, 400, "missing_api_token"),
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
    (errors.TaskQueueingError, 406, "task_queueing_error"),
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


# --- tasks -----------------------------------------------------------------------------------------------------------
_TASK_NAMES = {
    TaskKind.TRASH_PURGE: "Purge all trash objects",
    TaskKind.PURGE_BUCKET: "Purge bucket",
    TaskKind.DELETE_BUCKET: "Delete bucket",
    TaskKind.BULK_DELETE: "Delete objects",
    TaskKind.DRY_RUN: "Dry run",
}
# Katapult knows four statuses; a cancelled task did not do what it was asked, so it reads as failed.
_TASK_STATUSES = {
    TaskStatus.PENDING: "pending",
    TaskStatus.RUNNING: "running",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "failed",
}


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def task_body(task: Task, plan: Plan | None = None) -> dict[str, Any]:
    """``{"task": {id, name, status, created_at, started_at, finished_at, progress, counts}}``: lowercase status,
    unix seconds (null until the moment happens), progress an integer 0..100, and the counts (with
    ``counts.outcomes``) as the other families' tasks show them."""
    name = _TASK_NAMES.get(task.kind, str(task.kind))
    if task.kind == TaskKind.TRASH_PURGE and task.requested_by.startswith(SCHEDULE_REQUESTER):
        name = "Purge expired trash objects"
    body: dict[str, Any] = {
        "id": task.id, "name": name, "status": _TASK_STATUSES[task.status], "created_at": _unix(task.created_at),
        "started_at": _unix(task.started_at), "finished_at": _unix(task.finished_at), "progress": _percent(task),
        "counts": task.counts.model_dump(mode="json", exclude={"chunks_total", "chunks_done", "planned"})}
    if task.is_dry_run:
        body["dry_run"] = True
        body["plan"] = plan.model_dump(mode="json") if plan is not None else None
    return {"task": body}


def _percent(task: Task) -> int:
    """100 only for a completed task: a failed or cancelled one shows how far it got."""
    progress = task.progress()
    if task.status == TaskStatus.COMPLETED:
        return progress.percent
    return min(int(progress.fraction * 100), 99)


def task_response(task: Task, plan: Plan | None = None) -> Response:
    """An unfinished task carries an integer ``Retry-After``, as every family's task answers do."""
    headers = {} if task.is_finished else {"Retry-After": str(retry_after_seconds(task))}
    return json_response(200, task_body(task, plan), headers)


def purge_all_dry_run_response(answer: DryRun) -> Response:
    """A dry run of purge_all: 200 with the plan, or 202 with the dry-run task (Katapult's task shape)."""
    if answer.plan is not None:
        return json_response(200, {"dry_run": True, "plan": answer.plan.model_dump(mode="json")})
    assert answer.task is not None
    return json_response(202, {"dry_run": True, **task_body(answer.task)},
                         {"Retry-After": str(retry_after_seconds(answer.task))})
