"""GET /v1/tasks/{task_id}/receipt (Mixpeek): a finished task's receipt, its summary and pre-signed URLs of its
manifest parts; 409 while the task runs."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import mixpeek
from eraser.api.http import build_resolver, headers_of, json_response
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.tasks import read_receipt

app = build_resolver(mixpeek.error_response)


@app.get("/v1/tasks/<task_id>/receipt")
def get_task_receipt(task_id: str) -> Response:
    principal = authenticate(headers_of(app.current_event), Scope.TASKS_READ)
    return json_response(200, read_receipt(principal, task_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
