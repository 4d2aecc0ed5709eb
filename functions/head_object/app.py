"""HEAD /s3/{bucket}/{key+}: S3's HeadObject (optionally ?versionId=) on a bucket of the caller's organization."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import s3xml
from eraser.api.http import build_resolver
from eraser.api.s3request import HEAD_OBJECT, VERSION_ID, authenticate_s3, ensure_operation
from eraser.auth import Scope
from eraser.observability import logger, metrics, tracer
from eraser.operations.objects import head_object

app = build_resolver(s3xml.error_response, refuse_repeated_query=False)


# As on DELETE: API Gateway has decoded the key, which may hold any character.
@app.route(r"/s3/[^/]+/[\s\S]+", method="HEAD")
def head_one_object() -> Response:
    event = app.current_event
    ensure_operation(event, HEAD_OBJECT, {VERSION_ID}, bodiless=True)
    principal = authenticate_s3(event, Scope.OBJECTS_READ)
    parameters = event.path_parameters or {}
    found = head_object(principal, parameters.get("bucket", ""), parameters.get("key", ""),
                        (event.query_string_parameters or {}).get(VERSION_ID))
    return s3xml.head_object_response(found, event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
