"""GET /tasks/{task_id}: a task of the caller's organization in Katapult's form (the one purge_all answers with)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import katapult
from eraser.api.http import build_resolver, headers_of
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.tasks import read_task

app = build_resolver(katapult.error_response)


@app.get("/tasks/<task_id>")
def get_task(task_id: str) -> Response:
    principal = authenticate(headers_of(app.current_event), Scope.TASKS_READ)
    report = read_task(principal, task_id)
    return katapult.task_response(report.task, report.plan)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
