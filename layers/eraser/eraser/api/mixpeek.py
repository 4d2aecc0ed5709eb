"""Mixpeek (delete a bucket, tasks): errors as ``{"success": false, "status", "error": {message, type, code,
details}}``; validation errors are 422 and also carry FastAPI's ``detail`` list, which Mixpeek's clients read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import json_response
from eraser.operations.tasks import DryRun
from eraser.storage.plan import Plan
from eraser.tasks import receipts
from eraser.tasks.model import KeyFailure, Task, TaskStatus, retry_after_seconds

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
    (errors.TaskRunning, 409, "ConflictError", "task_running"),
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


# --- tasks ---------------------------------------------------------------------------------------------------------
# Engine statuses in Mixpeek's vocabulary. A task with keys that could not be deleted is FAILED (it did not do what
# was asked), never COMPLETED_WITH_ERRORS; Eraser does not use PROCESSING.
MIXPEEK_STATUS = {
    TaskStatus.PENDING: "PENDING",
    TaskStatus.RUNNING: "IN_PROGRESS",
    TaskStatus.COMPLETED: "COMPLETED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "CANCELED",
}


def _polling_headers(task: Task) -> dict[str, str]:
    return {} if task.is_finished else {"Retry-After": str(retry_after_seconds(task))}


def bucket_deletion_response(task: Task) -> Response:
    """The answer to DELETE /v1/buckets/{bucket}: the task to poll and what it deletes."""
    target = task.first_target
    body = {"task_id": task.id, "status": MIXPEEK_STATUS[task.status], "bucket_id": target.bucket_id,
            "bucket_name": target.bucket_name, "object_count": task.object_count}
    return json_response(200, body, _polling_headers(task))


def bucket_deletion_dry_run_response(answer: DryRun) -> Response:
    """A dry run of DELETE /v1/buckets/{bucket}: 200 with the plan (``would_leave.bucket`` says whether the bucket
    itself would be kept), or 202 with the dry-run task to poll at ``GET /v1/tasks/{task_id}``."""
    if answer.plan is not None:
        return json_response(200, {"dry_run": True, "task_id": None, "status": "COMPLETED",
                                   "plan": answer.plan.model_dump(mode="json")})
    task = answer.task
    assert task is not None
    target = task.first_target
    return json_response(202, {"dry_run": True, "task_id": task.id, "status": MIXPEEK_STATUS[task.status],
                               "bucket_id": target.bucket_id, "bucket_name": target.bucket_name,
                               "object_count": None}, _polling_headers(task))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def task_body(task: Task, failures: list[KeyFailure], plan: Plan | None = None) -> dict[str, Any]:
    progress = task.progress()
    target = task.targets[0] if task.targets else None
    body: dict[str, Any] = {
        "task_id": task.id,
        "task_type": task.kind.value,
        "status": MIXPEEK_STATUS[task.status],
        "bucket_id": target.bucket_id if target else None,
        "bucket_name": target.bucket_name if target else None,
        "targets": [{"bucket_id": item.bucket_id, "bucket_name": item.bucket_name} for item in task.targets],
        "requested_by": task.requested_by,
        "created_at": _iso(task.created_at),
        "started_at": _iso(task.started_at),
        "finished_at": _iso(task.finished_at),
        "object_count": task.object_count,
        "progress": progress.model_dump(),
        "counts": task.counts.model_dump(mode="json", exclude={"chunks_total", "chunks_done", "planned"}),
        "bucket_empty_at_end": task.bucket_empty_at_end,
        "bucket_deleted": task.bucket_deleted,
        "error_message": task.last_error,
        "failures": [failure.model_dump(mode="json") for failure in failures],
        "receipt_url": receipts.receipt_path(task),
    }
    if task.is_dry_run:
        # What the task previews, and once it has completed, its plan (docs/dry-run.md).
        body["previews"] = task.acts_as.value
        body["plan"] = plan.model_dump(mode="json") if plan is not None else None
    return body


def task_response(task: Task, failures: list[KeyFailure], plan: Plan | None = None) -> Response:
    return json_response(200, task_body(task, failures, plan), _polling_headers(task))
