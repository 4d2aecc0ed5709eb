"""DELETE /s3/{bucket}/{key+}: S3's DeleteObject on a bucket of the caller's organization (S3 XML errors)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import s3xml
from eraser.api.http import build_resolver, headers_of
from eraser.api.s3request import authenticate_s3, delete_object_request, dry_run_of_headers, ensure_delete_object
from eraser.auth import Scope
from eraser.observability import logger, metrics, tracer
from eraser.operations.objects import Deadline, delete_object, preview_delete_object

app = build_resolver(s3xml.error_response, refuse_repeated_query=False)


# API Gateway has matched /s3/{bucket}/{key+} and URL-decoded both parameters; the key may hold any character
# (slashes, newlines, '%'), which Powertools' <name> placeholders would not match, so the route takes anything.
@app.delete(r"/s3/[^/]+/[\s\S]+")
def delete_one_object() -> Response:
    event = app.current_event
    # Another operation's request on this path (?tagging, ?uploadId=...) or a repeated parameter is refused before
    # anything is read: it is no DeleteObject at all, and taking it for one deleted the object.
    ensure_delete_object(event)
    headers = headers_of(event)
    # Credentials next, as S3 does: an unauthenticated caller learns nothing about what a valid request looks like.
    principal = authenticate_s3(event, Scope.OBJECTS_DELETE)
    request = delete_object_request(event.path_parameters or {}, event.query_string_parameters or {}, headers)
    if dry_run_of_headers(headers):
        return s3xml.delete_object_preview_response(
            preview_delete_object(principal, request, deadline=Deadline.of(app.lambda_context)), event)
    result = delete_object(principal, request, deadline=Deadline.of(app.lambda_context))
    return s3xml.delete_object_response(result, event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
