"""POST /v1/tasks/{task_id}/cancel (Mixpeek): stop a task at the next batch boundary; a finished task is a 409."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import mixpeek
from eraser.api.http import build_resolver, headers_of
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.tasks import cancel_task as cancel

app = build_resolver(mixpeek.error_response)


@app.post("/v1/tasks/<task_id>/cancel")
def cancel_task(task_id: str) -> Response:
    principal = authenticate(headers_of(app.current_event), Scope.TASKS_CANCEL)
    report = cancel(principal, task_id)
    return mixpeek.task_response(report.task, report.failures, report.plan)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
