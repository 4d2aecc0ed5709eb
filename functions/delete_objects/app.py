"""POST /s3/{bucket}?delete: S3's DeleteObjects on a bucket of the caller's organization (S3 XML in and out)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import s3xml
from eraser.api.http import body_bytes, build_resolver, headers_of
from eraser.api.s3body import read_delete_document
from eraser.api.s3request import (
    DELETE_OBJECTS,
    authenticate_s3,
    delete_objects_request,
    dry_run_of_headers,
    ensure_operation,
)
from eraser.auth import Scope
from eraser.observability import logger, metrics, tracer
from eraser.operations.objects import Deadline, delete_objects, preview_delete_objects

app = build_resolver(s3xml.error_response, refuse_repeated_query=False)


@app.post(r"/s3/[^/]+")
def delete_many_objects() -> Response:
    event = app.current_event
    # POST /{bucket} is DeleteObjects only with ?delete; without it (or with another sub-resource) it is another
    # operation, refused before anything is read.
    ensure_operation(event, DELETE_OBJECTS, {"delete"}, required={"delete"})
    principal = authenticate_s3(event, Scope.OBJECTS_DELETE)
    document = read_delete_document(body_bytes(event), headers_of(event))
    request = delete_objects_request(event, document)
    if dry_run_of_headers(headers_of(event)):
        return s3xml.delete_objects_response(
            preview_delete_objects(principal, request, deadline=Deadline.of(app.lambda_context)), event, dry_run=True)
    result = delete_objects(principal, request, deadline=Deadline.of(app.lambda_context))
    return s3xml.delete_objects_response(result, event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
