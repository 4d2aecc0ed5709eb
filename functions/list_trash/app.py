"""GET /v1/trash?bucket=<name>: one page of a trash-enabled bucket's trash (Eraser's own; Mixpeek's envelope)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import trash as trash_api
from eraser.api.http import build_resolver, headers_of, validate
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.trash import TrashListQuery, list_trash

app = build_resolver(trash_api.error_response)


@app.get("/v1/trash")
def list_bucket_trash() -> Response:
    event = app.current_event
    principal = authenticate(headers_of(event), Scope.TRASH_READ)
    query = validate(TrashListQuery, event.query_string_parameters or {}, location="query")
    bucket, page = list_trash(principal, query)
    return trash_api.trash_page_response(bucket, page)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
