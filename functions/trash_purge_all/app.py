"""POST /organizations/organization/trash_objects/purge_all: one task purging the trash of every trash-enabled bucket
of the caller's organization, as of now (Katapult shapes)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import katapult
from eraser.api.http import build_resolver, headers_of, parse_json_body, refuse_query
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.trash import PurgeAllTrashRequest, purge_all_trash

app = build_resolver(katapult.error_response)


@app.post("/organizations/organization/trash_objects/purge_all")
def purge_all_trash_objects() -> Response:
    event = app.current_event
    principal = authenticate(headers_of(event), Scope.TRASH_OBJECTS_PURGE)
    refuse_query(event)
    request = parse_json_body(event, PurgeAllTrashRequest)
    task = purge_all_trash(principal, request)
    return katapult.task_response(task)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
