"""The deletion task engine: a task record in DynamoDB, listing steps and batches of keys on SQS, exact counts.

The API other features use (stable; see docs/tasks.md "Engine API for other features"): ``create_task``,
``record_completed_task``, ``get_task``, ``find_task``, ``failures_of``, ``cancel_task``, and the models below.

Modules: ``model`` (what a task is), ``repository`` (its DynamoDB records), ``queues`` (its SQS messages),
``engine`` (lifecycle: create, end of pass, finalize, cancel, fail), ``lister`` (listing steps), ``worker``
(DeleteObjects batches, or a dry run's predictions), ``preview`` (a dry run within a request), ``selection``
(what a selection targets), ``receipts`` (the proof of what a task deleted), ``events`` (state changes on the event
bus), ``supervision`` (watchdog, dead letters). What the task routes do (org checks, rate
limits, idempotency) lives in ``eraser.operations``; this package imports none of ``auth``, ``ratelimit``, ``api``
or ``operations``.
"""

from eraser.tasks.engine import cancel_task, create_task, failures_of, find_task, get_task, record_completed_task
from eraser.tasks.model import (
    KeyFailure,
    Progress,
    Selection,
    SelectionMode,
    Target,
    Task,
    TaskKind,
    TaskStatus,
)

__all__ = [
    "KeyFailure",
    "Progress",
    "Selection",
    "SelectionMode",
    "Target",
    "Task",
    "TaskKind",
    "TaskStatus",
    "cancel_task",
    "create_task",
    "failures_of",
    "find_task",
    "get_task",
    "record_completed_task",
]
