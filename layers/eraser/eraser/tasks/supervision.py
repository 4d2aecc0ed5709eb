"""Tasks whose workers stopped: the watchdog resumes or fails them; a dead-lettered message fails its task.

The watchdog reads every unfinished task (the sparse ``active-tasks`` index holds only those) and judges each by its
own record:
- a listing or finalize step that no delivery holds under a live claim and that nobody claimed or saved for
  ``listing_stale_seconds`` was lost (its worker died after saving, before enqueueing the next step; or it died
  holding the claim, whose lease has run out): the step is sent again from the checkpoint on the record;
- a pass whose end nobody claimed is claimed;
- batches still outstanding are SQS's to redeliver (or dead-letter, which fails the task); only a task whose
  heartbeat is older than ``watchdog_stale_seconds`` counts as resumed.
A task resumed ``watchdog_max_resumes`` times without progress (a saved step or a counted batch resets the count)
is failed with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from eraser.clock import utc_now
from eraser.config import engine_settings
from eraser.errors import TaskNotFound
from eraser.observability import logger, metrics
from eraser.tasks.engine import advance_if_pass_finished, fail_task, pass_is_finished, resume_message
from eraser.tasks.model import ListingMessage, Phase, Task, TaskStatus
from eraser.tasks.queues import send_listing_step
from eraser.tasks.repository import TaskRepository


@dataclass
class WatchdogReport:
    resumed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def resume_stalled_tasks(now: datetime | None = None) -> WatchdogReport:
    tuning = engine_settings()
    repository = TaskRepository()
    report = WatchdogReport()
    now = now or utc_now()
    for task_id in list(repository.active_task_ids()):
        try:
            task = repository.get(task_id)
        except TaskNotFound:
            continue
        if task.is_finished or not _is_stalled(task, now):
            continue
        if task.resumes >= tuning.watchdog_max_resumes:
            if fail_task(task.id, f"stalled: no progress after {task.resumes} resumes by the watchdog"):
                report.failed.append(task.id)
            continue
        resumed = repository.record_resume(task)
        if resumed is None:
            continue
        report.resumed.append(task.id)
        logger.warning("Resuming a stalled task", extra={"task_id": task.id, "resumes": resumed.resumes})
        if resumed.status == TaskStatus.PENDING:
            send_listing_step(ListingMessage(task_id=task.id))
        elif resumed.phase == Phase.FINALIZING or not resumed.listing_done:
            send_listing_step(resume_message(resumed))
        elif pass_is_finished(resumed):
            # The end of the pass was reached but nobody claimed it (a worker died in between).
            advance_if_pass_finished(resumed)
        # Otherwise chunks are outstanding: SQS still retries them (or dead-letters them, which fails the task).
    metrics.add_metric(name="StalledTasksResumed", unit=MetricUnit.Count, value=len(report.resumed))
    metrics.add_metric(name="StalledTasksFailed", unit=MetricUnit.Count, value=len(report.failed))
    return report


def _is_stalled(task: Task, now: datetime) -> bool:
    tuning = engine_settings()
    if task.status == TaskStatus.RUNNING and task.step_is_claimed(now):
        return False  # a live invocation holds the step; its lease ends with it
    waits_for_a_step = (task.status == TaskStatus.PENDING or task.phase == Phase.FINALIZING
                        or not task.listing_done or pass_is_finished(task))
    if waits_for_a_step:
        last_step = task.stepped_at or task.heartbeat_at or task.created_at
        return last_step < now - timedelta(seconds=tuning.listing_stale_seconds)
    last_beat = task.heartbeat_at or task.created_at
    return last_beat < now - timedelta(seconds=tuning.watchdog_stale_seconds)


def fail_dead_lettered(body: str, queue_arn: str) -> None:
    """A message reached a dead-letter queue after repeated failures: its task cannot finish truthfully."""
    try:
        task_id = str(json.loads(body)["task_id"])
    except (ValueError, KeyError, TypeError):
        logger.error("Dead-lettered message without a task id", extra={"queue": queue_arn})
        return
    metrics.add_metric(name="DeadLetteredMessages", unit=MetricUnit.Count, value=1)
    queue = queue_arn.rsplit(":", 1)[-1]
    what = "a batch of keys" if "deletion" in queue else "a listing step"
    fail_task(task_id, f"{what} failed repeatedly and was dead-lettered ({queue}); the task was stopped")
