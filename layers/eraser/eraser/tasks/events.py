"""Task state changes published on the stage's EventBridge bus (template ``EventBus``), once per task and state.

``source: eraser``, ``detail-type: Eraser Task State Change``; the detail is the task's summary (openapi/
task-state-change.schema.json): ids, names, counts, timestamps and the receipt's location, never a key list or a
credential. A retried step that records the same state again publishes nothing: before publishing, an
``EVENT#<state>`` item is written on the task's partition of the tasks table under ``attribute_not_exists``, and
removed again when publishing fails so that a later attempt can publish.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from eraser import aws
from eraser.clock import utc_now
from eraser.config import settings
from eraser.observability import logger, metrics
from eraser.tasks import receipts
from eraser.tasks.model import Task, TaskStatus

SOURCE = "eraser"
DETAIL_TYPE = "Eraser Task State Change"
STATE_OF_STATUS = {
    TaskStatus.PENDING: "created",
    TaskStatus.RUNNING: "running",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
# The de-duplication item outlives the task record (kept task_retention_days after the end), like a chunk record.
_EVENT_RECORD_EXTRA_DAYS = 14


class EventNotPublished(Exception):
    pass


def task_state_changed(task: Task) -> None:
    """The hook of every recorded state change: a finished task's summary first (the event points at it), then the
    event. The state is already recorded when this runs, so nothing here fails the caller: a retried caller would
    not record the state again. Failures are logged and counted (``ReceiptsNotWritten``, ``EventsNotPublished``);
    the receipt route writes a missing summary."""
    summary_key: str | None = None
    if task.is_finished:
        try:
            summary_key = receipts.write_summary(task)
        except Exception:  # noqa: BLE001 - see the docstring
            logger.exception("Receipt summary not written", extra={"task_id": task.id})
            metrics.add_metric(name="ReceiptsNotWritten", unit=MetricUnit.Count, value=1)
    try:
        publish_once(task, summary_key)
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("Task state change not published", extra={"task_id": task.id, "status": task.status})
        metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=1)


def publish_once(task: Task, summary_key: str | None) -> bool:
    """Publish the task's current state unless it was published before; whether this call published it."""
    bus = settings().event_bus_name
    if not bus:
        return False
    state = STATE_OF_STATUS[task.status]
    table = aws.table(settings().tasks_table)
    key = {"pk": f"TASK#{task.id}", "sk": f"EVENT#{state}"}
    now = utc_now()
    expires_at = int((now + timedelta(days=settings().task_retention_days + _EVENT_RECORD_EXTRA_DAYS)).timestamp())
    try:
        table.put_item(Item={**key, "published_at": now.isoformat(), "expires_at": expires_at},
                       ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    entry = {"Source": SOURCE, "DetailType": DETAIL_TYPE, "EventBusName": bus, "Resources": [],
             "Detail": json.dumps(detail_of(task, summary_key))}
    try:
        answer = aws.events().put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            failed = answer["Entries"][0]
            raise EventNotPublished(f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
    except BaseException:
        table.delete_item(Key=key)
        raise
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=1)
    return True


def detail_of(task: Task, summary_key: str | None) -> dict[str, Any]:
    counts = task.counts
    receipt = None
    if summary_key is not None:
        receipt = {"url": f"/v1/tasks/{task.id}/receipt", "bucket": settings().receipts_bucket,
                   "summary_key": summary_key}
    return {
        "task_id": task.id,
        "kind": task.kind.value,
        "state": STATE_OF_STATUS[task.status],
        "status": task.status.value,
        "organization_id": task.organization_id,
        "targets": [{"bucket_id": target.bucket_id, "bucket_name": target.bucket_name} for target in task.targets],
        "actor": receipts.actor_of(task.requested_by),
        "trigger": task.trigger.model_dump() if task.trigger else None,
        # A dry run's outcomes are predictions (its plan), the others' what happened to each entry.
        "counts": {"objects_listed": counts.objects_listed, "versions_listed": counts.versions_listed,
                   "deleted": counts.deleted, "failed": counts.failed, "bytes_freed": counts.bytes_freed,
                   "uploads_aborted": counts.uploads_aborted,
                   "outcomes": {name: count for name, count in counts.outcomes.items() if count}},
        "created_at": task.created_at.isoformat(),
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "finished_at": task.finished_at.isoformat() if task.finished_at else None,
        "error_message": task.last_error,
        "receipt": receipt,
    }
