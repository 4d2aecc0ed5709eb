"""POST /v1/trash/restore: bring keys of a trash-enabled bucket back from trash, with per-key errors (Eraser's own;
Mixpeek's envelope)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import trash as trash_api
from eraser.api.http import build_resolver, headers_of, parse_json_body, refuse_query
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.trash import RestoreRequest, restore

app = build_resolver(trash_api.error_response)


@app.post("/v1/trash/restore")
def restore_from_trash() -> Response:
    event = app.current_event
    principal = authenticate(headers_of(event), Scope.TRASH_RESTORE)
    refuse_query(event)
    request = parse_json_body(event, RestoreRequest)
    bucket, result = restore(principal, request)
    return trash_api.restore_response(bucket, result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
