"""EventBridge schedule: start, per trash-enabled bucket, a purge of the trash past its retention."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.observability import logger, metrics, tracer
from eraser.operations.trash import Deadline, purge_expired_trash


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    # Only EventBridge's scheduled events start purges: anything else fails validation before any work.
    scheduled = parse(event=event, model=EventBridgeModel)
    # Run by hand with ``"detail": {"dry_run": true}`` (events/scheduled_trash_purge_dry_run.json): every purge is
    # previewed and nothing is deleted. The schedule's own events carry an empty detail.
    dry_run = scheduled.detail.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValueError("detail.dry_run must be true or false")
    run = purge_expired_trash(dry_run=dry_run, deadline=Deadline.of(context))
    metrics.add_metric(name="TrashPurgesStarted", unit=MetricUnit.Count, value=run.started)
    metrics.add_metric(name="TrashPurgesAlreadyRunning", unit=MetricUnit.Count, value=run.skipped)
    metrics.add_metric(name="TrashPurgesNotStarted", unit=MetricUnit.Count, value=run.failed)
    logger.info("Scheduled trash purge", extra={"scheduled_at": scheduled.time.isoformat(), "started": run.started,
                                                "already_running": run.skipped, "failed": run.failed})
    return {"requested_by": run.requested_by, "dry_run": run.dry_run, "started": run.started, "already_running": run.skipped,
            "failed": run.failed, "purges": [purge.model_dump(mode="json") for purge in run.purges]}
