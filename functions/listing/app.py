"""Listing steps from the listing queue (batch size 1): list pages, enqueue chunks, checkpoint, enqueue the next step
before this invocation could time out."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.observability import logger, metrics, tracer
from eraser.tasks.lister import run_listing_message

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    run_listing_message(record.body, lambda_context.get_remaining_time_in_millis)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
