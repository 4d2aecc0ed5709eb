"""What the task routes do: read a task and cancel it, within the caller's organization.

Both task routes read through ``read_task`` (Mixpeek's ``GET /v1/tasks/{id}`` and Katapult's ``GET /tasks/{id}``):
another organization's task is ``TaskNotFound`` on either, and the report carries the failure sample whichever
family renders it.
"""

from __future__ import annotations

from dataclasses import dataclass

from eraser.auth import Principal
from eraser.tasks.engine import cancel_task as cancel_in_engine
from eraser.tasks.engine import failures_of, find_task
from eraser.tasks.model import KeyFailure, Task


@dataclass(frozen=True)
class TaskReport:
    task: Task
    # The task's sample of keys it could not delete (a bounded sample, not every failure).
    failures: list[KeyFailure]


def read_task(principal: Principal, task_id: str) -> TaskReport:
    task = find_task(principal.organization.id, task_id)
    return TaskReport(task, failures_of(task.id))


def cancel_task(principal: Principal, task_id: str) -> TaskReport:
    """Stop the task at the next batch boundary; a finished task is ``Conflict``."""
    task = cancel_in_engine(principal.organization.id, task_id)
    return TaskReport(task, failures_of(task.id))
