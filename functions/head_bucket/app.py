"""HEAD /s3/{bucket}: S3's HeadBucket on a bucket of the caller's organization (200 with its region, or 404)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import s3xml
from eraser.api.http import build_resolver
from eraser.api.s3request import HEAD_BUCKET, authenticate_s3, ensure_operation
from eraser.auth import Scope
from eraser.config import settings
from eraser.observability import logger, metrics, tracer
from eraser.operations.objects import head_bucket

app = build_resolver(s3xml.error_response, refuse_repeated_query=False)


@app.route(r"/s3/[^/]+", method="HEAD")
def head_one_bucket() -> Response:
    event = app.current_event
    ensure_operation(event, HEAD_BUCKET, (), bodiless=True)
    principal = authenticate_s3(event, Scope.OBJECTS_READ)
    head_bucket(principal, (event.path_parameters or {}).get("bucket", ""))
    return s3xml.head_bucket_response(settings().s3_signing_region, event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
