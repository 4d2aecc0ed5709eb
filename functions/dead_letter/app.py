"""Messages that reached the listing or deletion dead-letter queue: their task is failed with a reason instead of
waiting forever for a batch that will never be counted."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.observability import logger, metrics, tracer
from eraser.tasks.supervision import fail_dead_lettered

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    fail_dead_lettered(record.body, record.event_source_arn)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
