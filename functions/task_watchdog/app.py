"""Scheduled: resume tasks whose workers stopped reporting, or fail them with a reason after a few resumes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.observability import logger, metrics, tracer
from eraser.tasks.supervision import resume_stalled_tasks


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    # The schedule's own time is not used: "stalled" is measured against this function's clock.
    return asdict(resume_stalled_tasks())
