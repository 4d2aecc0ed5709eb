"""Batches of keys from the deletion queue: one DeleteObjects call each, counted once per chunk id. A record that
fails is reported alone (partial batch response) and redelivered by SQS; if every record fails, Powertools raises
BatchProcessingError and the whole batch is retried."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.observability import logger, metrics, tracer
from eraser.tasks.worker import delete_chunk_message

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    delete_chunk_message(record.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
