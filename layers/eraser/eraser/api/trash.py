"""Eraser's own trash endpoints (``GET /v1/trash``, ``POST /v1/trash/restore``) answer in Mixpeek's envelope: errors
as ``{"success": false, "status", "error": {message, type, code, details}}`` (validation 422), successes as
``{"success": true, ...}``. One addition: a page token this service did not issue is 400 ``BadRequestError``
``invalid_page_token`` (Mixpeek documents 400 as ``BadRequestError``), not a 422 about the request's shape."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api import mixpeek
from eraser.api.http import json_response
from eraser.tenancy import Bucket
from eraser.trash import RestoreResult, TrashPage


def error_response(error: Exception, event: APIGatewayProxyEvent) -> Response:
    if isinstance(error, errors.InvalidPageToken):
        return json_response(400, {"success": False, "status": 400,
                                   "error": {"message": error.message, "type": "BadRequestError",
                                             "code": "invalid_page_token", "details": {"errors": error.errors}}})
    return mixpeek.error_response(error, event)


def trash_page_response(bucket: Bucket, page: TrashPage) -> Response:
    results = [{**entry.model_dump(mode="json", exclude={"deleted_at"}),
                "deleted_at": entry.deleted_at.isoformat().replace("+00:00", "Z")} for entry in page.entries]
    return json_response(200, {"success": True, "bucket": {"id": bucket.id, "name": bucket.name},
                               "results": results,
                               "pagination": {"page_size": len(results), "next_page_token": page.next_page_token,
                                              "has_more": page.next_page_token is not None}})


def restore_response(bucket: Bucket, result: RestoreResult) -> Response:
    body = result.model_dump(mode="json")
    return json_response(200, {"success": not result.errors, "bucket": {"id": bucket.id, "name": bucket.name},
                               **body})
