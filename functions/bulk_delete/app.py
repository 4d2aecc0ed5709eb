"""DELETE /v1/storage/objects?bucket=<name>: delete object keys and folder paths of one bucket (Seahorse shapes)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import seahorse
from eraser.api.http import build_resolver, dry_run_of, headers_of, parse_json_body, validate, without_dry_run
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.objects import BulkDeleteQuery, BulkDeleteRequest, Deadline, bulk_delete, preview_bulk_delete

app = build_resolver(seahorse.error_response)


@app.delete("/v1/storage/objects")
def delete_objects() -> Response:
    event = app.current_event
    # Credentials first: an unauthenticated caller learns nothing about what a valid body looks like.
    principal = authenticate(headers_of(event), Scope.OBJECTS_DELETE)
    query = validate(BulkDeleteQuery, without_dry_run(event), location="query")
    dry_run = dry_run_of(event)
    request = parse_json_body(event, BulkDeleteRequest)
    if dry_run:
        return seahorse.bulk_delete_dry_run_response(
            preview_bulk_delete(principal, query.bucket, request, deadline=Deadline.of(app.lambda_context)))
    result = bulk_delete(principal, query.bucket, request, deadline=Deadline.of(app.lambda_context))
    return seahorse.bulk_delete_response(result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
