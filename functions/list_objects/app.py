"""GET /s3/{bucket}: ListObjectsV2 (?list-type=2), ListObjectVersions (?versions) and GetBucketLocation (?location)
on a bucket of the caller's organization, read-only, in S3's XML."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import s3xml
from eraser.api.http import build_resolver
from eraser.api.s3request import (
    GET_BUCKET_LOCATION,
    LIST_OBJECTS_V2,
    authenticate_s3,
    bucket_get_operation,
    encoding_type_of,
    max_keys_of,
)
from eraser.auth import Scope
from eraser.config import settings
from eraser.observability import logger, metrics, tracer
from eraser.operations.objects import ListObjectsQuery, ListVersionsQuery, head_bucket, list_objects, list_versions

app = build_resolver(s3xml.error_response, refuse_repeated_query=False)


@app.get(r"/s3/[^/]+")
def read_bucket() -> Response:
    event = app.current_event
    operation = bucket_get_operation(event)
    principal = authenticate_s3(event, Scope.OBJECTS_READ)
    bucket = (event.path_parameters or {}).get("bucket", "")
    query = event.query_string_parameters or {}
    if operation == GET_BUCKET_LOCATION:
        head_bucket(principal, bucket)
        return s3xml.bucket_location_response(settings().s3_signing_region, event)
    encoding, max_keys = encoding_type_of(query), max_keys_of(query)
    if operation == LIST_OBJECTS_V2:
        page = list_objects(principal, bucket, ListObjectsQuery(
            prefix=query.get("prefix"), delimiter=query.get("delimiter"),
            continuation_token=query.get("continuation-token"), start_after=query.get("start-after"),
            max_keys=max_keys))
        return s3xml.list_objects_response(page, bucket, encoding, query.get("start-after"), max_keys, event)
    page = list_versions(principal, bucket, ListVersionsQuery(
        prefix=query.get("prefix"), delimiter=query.get("delimiter"), key_marker=query.get("key-marker"),
        version_id_marker=query.get("version-id-marker"), max_keys=max_keys))
    return s3xml.list_versions_response(page, bucket, encoding, max_keys, event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
