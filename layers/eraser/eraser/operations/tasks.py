"""What the task routes do: read a task, its receipt, and cancel it, within the caller's organization.

Both task routes read through ``read_task`` (Mixpeek's ``GET /v1/tasks/{id}`` and Katapult's ``GET /tasks/{id}``):
another organization's task is ``TaskNotFound`` on either, and the report carries the failure sample whichever
family renders it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eraser.auth import Principal
from eraser.config import settings
from eraser.storage.plan import Plan, PlannedEntry, plan_of
from eraser.storage.retries import Deadline
from eraser.tasks import receipts
from eraser.tasks.engine import cancel_task as cancel_in_engine
from eraser.tasks.engine import create_task, draft_task, failures_of, find_task
from eraser.tasks.model import KeyFailure, Selection, Task, TaskKind, TaskStatus
from eraser.tasks.preview import plan_now
from eraser.tenancy import Bucket, Organization


@dataclass(frozen=True)
class TaskReport:
    task: Task
    # The task's sample of keys it could not delete (a bounded sample, not every failure).
    failures: list[KeyFailure]
    # A dry-run task's plan, once it has completed.
    plan: Plan | None = None


def read_task(principal: Principal, task_id: str) -> TaskReport:
    task = find_task(principal.organization.id, task_id)
    return _report(task)


def read_receipt(principal: Principal, task_id: str) -> dict[str, Any]:
    """A finished task's receipt (docs/receipts.md): ``TaskRunning`` before it ends; another organization's task is
    ``TaskNotFound``."""
    return receipts.read_receipt(find_task(principal.organization.id, task_id))


def cancel_task(principal: Principal, task_id: str) -> TaskReport:
    """Stop the task at the next batch boundary; a finished task is ``Conflict``."""
    task = cancel_in_engine(principal.organization.id, task_id)
    return _report(task)


def _report(task: Task) -> TaskReport:
    failures = failures_of(task.id)
    return TaskReport(task, failures, plan_of_task(task, failures))


def plan_of_task(task: Task, failures: list[KeyFailure]) -> Plan | None:
    """A completed dry-run task's plan: its counts summed over its chunks, its sample the entries it found would be
    left (the failure sample of a dry run)."""
    if not task.is_dry_run or task.status != TaskStatus.COMPLETED:
        return None
    sample = [PlannedEntry(key=failure.key, version_id=failure.version_id, outcome=failure.outcome,
                           reason=None) for failure in failures]
    return plan_of(task.counts.planned, task.counts.outcomes, sample,
                   keeps_bucket=task.acts_as == TaskKind.DELETE_BUCKET)


# --- dry runs --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DryRun:
    """What a dry run answers: the plan, when it could be made within the request, or else the dry-run task that
    makes it (docs/dry-run.md)."""

    plan: Plan | None = None
    task: Task | None = None


def preview(organization: Organization, kind: TaskKind, buckets: list[Bucket], selection: Selection,
            requested_by: str, *, deadline: Deadline, before_task: Callable[[], None] | None = None) -> DryRun:
    """What a task of ``kind`` over ``buckets`` would do now, listed by the same code it would list with. Made
    within the request up to the synchronous limit and the request's time, else by a dry-run task (after
    ``before_task``, the rate limit of a request that is only limited when it creates a task)."""
    if not buckets:
        return DryRun(plan=Plan())
    draft = draft_task(organization, TaskKind.DRY_RUN, buckets, requested_by, selection, previews=kind)
    plan = plan_now(draft, limit=settings().sync_delete_limit, deadline=deadline)
    if plan is not None:
        return DryRun(plan=plan)
    if before_task is not None:
        before_task()
    return DryRun(task=create_task(organization, TaskKind.DRY_RUN, buckets, requested_by, selection,
                                   previews=kind))
