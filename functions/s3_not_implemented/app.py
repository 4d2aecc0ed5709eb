"""Every other S3 operation on the /s3 paths (PUT, COPY, multipart, GetObject, ?tagging, ?acl, ?lifecycle...):
501 NotImplemented in S3's XML, before credentials are read and before anything touches S3."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import s3xml
from eraser.api.http import build_resolver
from eraser.errors import OperationNotImplemented
from eraser.observability import logger, metrics, tracer

app = build_resolver(s3xml.error_response, refuse_repeated_query=False)

METHODS = ["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@app.route(r"/s3(?:/[\s\S]*)?", method=METHODS)
def not_implemented() -> Response:
    event = app.current_event
    raise OperationNotImplemented(
        f"Eraser's S3 endpoint implements deletion and the listing it needs only; {event.http_method} on this path "
        "is not implemented. Nothing was read or changed.")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
