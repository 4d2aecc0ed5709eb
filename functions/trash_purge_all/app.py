"""POST /organizations/organization/trash_objects/purge_all: one task purging the trash of every trash-enabled bucket
of the caller's organization, as of now (Katapult shapes)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import katapult
from eraser.api.http import DRY_RUN, build_resolver, dry_run_of, headers_of, parse_json_body, refuse_query
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.trash import Deadline, PurgeAllTrashRequest, preview_purge_all_trash, purge_all_trash

app = build_resolver(katapult.error_response)


@app.post("/organizations/organization/trash_objects/purge_all")
def purge_all_trash_objects() -> Response:
    event = app.current_event
    principal = authenticate(headers_of(event), Scope.TRASH_OBJECTS_PURGE)
    refuse_query(event, allowed=frozenset({DRY_RUN}))
    dry_run = dry_run_of(event)
    request = parse_json_body(event, PurgeAllTrashRequest)
    if dry_run:
        return katapult.purge_all_dry_run_response(
            preview_purge_all_trash(principal, request, deadline=Deadline.of(app.lambda_context)))
    task = purge_all_trash(principal, request)
    return katapult.task_response(task)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
