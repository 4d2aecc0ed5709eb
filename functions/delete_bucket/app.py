"""DELETE /v1/buckets/{bucket_identifier} (Mixpeek): answer at once with a task that deletes every object and
version, cancels the bucket's other tasks, and removes the S3 bucket and its records."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import mixpeek
from eraser.api.http import build_resolver, dry_run_of, headers_of, refuse_all_but_the_path
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.buckets import Deadline, preview_bucket_deletion, submit_bucket_deletion

app = build_resolver(mixpeek.error_response)


@app.delete("/v1/buckets/<bucket_identifier>")
def delete_bucket(bucket_identifier: str) -> Response:
    headers = headers_of(app.current_event)
    principal = authenticate(headers, Scope.BUCKETS_DELETE)
    refuse_all_but_the_path(app.current_event)
    if dry_run_of(app.current_event):
        return mixpeek.bucket_deletion_dry_run_response(
            preview_bucket_deletion(principal, bucket_identifier, deadline=Deadline.of(app.lambda_context),
                                    idempotency_key=headers.get("idempotency-key")))
    task = submit_bucket_deletion(principal, bucket_identifier, idempotency_key=headers.get("idempotency-key"),
                                  lambda_context=app.lambda_context)
    return mixpeek.bucket_deletion_response(task)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
