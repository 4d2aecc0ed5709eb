"""DELETE /storage/obj/{bucket}/purge (quiva.ai): remove every object, version and delete marker, keep the bucket."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eraser.api import quiva
from eraser.api.http import build_resolver, dry_run_of, headers_of, refuse_all_but_the_path
from eraser.auth import Scope, authenticate
from eraser.observability import logger, metrics, tracer
from eraser.operations.buckets import Deadline, preview_purge, submit_purge

app = build_resolver(quiva.error_response)


@app.delete("/storage/obj/<bucket>/purge")
def purge_bucket(bucket: str) -> Response:
    headers = headers_of(app.current_event)
    principal = authenticate(headers, Scope.BUCKETS_PURGE)
    refuse_all_but_the_path(app.current_event)
    if dry_run_of(app.current_event):
        return quiva.purge_dry_run_response(preview_purge(
            principal, bucket, deadline=Deadline.of(app.lambda_context), idempotency_key=headers.get("idempotency-key")))
    task = submit_purge(principal, bucket, idempotency_key=headers.get("idempotency-key"),
                        lambda_context=app.lambda_context)
    return quiva.purge_response(task)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
