"""S3: errors as S3's XML error document with ``x-amz-request-id`` and ``x-amz-id-2``, DeleteObject's 204 and
DeleteObjects' ``DeleteResult``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser import errors
from eraser.api.http import request_id
from eraser.operations.objects import DeleteObjectPreview
from eraser.storage.browse import HeadedObject
from eraser.storage.delete_objects import DeleteObjectsResult
from eraser.storage.objects import DeleteObjectResult
from eraser.storage.outcomes import s3_error_code

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
# A carriage return in XML text reaches the client's parser as a line feed unless written as a character reference;
# a key holding one would come back as another key.
_TEXT_ENTITIES = {"\r": "&#13;"}

_ERRORS: list[tuple[type[Exception], int, str]] = [
    # Signature Version 4 failures first: several subclass the broader AuthError and ValidationFailed below.
    (errors.SignatureDoesNotMatch, 403, "SignatureDoesNotMatch"),
    (errors.RequestTimeTooSkewed, 403, "RequestTimeTooSkewed"),
    (errors.AuthorizationHeaderMalformed, 400, "AuthorizationHeaderMalformed"),
    (errors.AuthorizationQueryParametersError, 400, "AuthorizationQueryParametersError"),
    (errors.ContentSha256Mismatch, 400, "XAmzContentSHA256Mismatch"),
    (errors.BucketNotFound, 404, "NoSuchBucket"),
    (errors.NoSuchKey, 404, "NoSuchKey"),
    (errors.PreconditionFailed, 412, "PreconditionFailed"),
    (errors.AccessDenied, 403, "AccessDenied"),
    (errors.InvalidArgument, 400, "InvalidArgument"),
    (errors.KeyTooLong, 400, "KeyTooLongError"),
    (errors.MalformedXML, 400, "MalformedXML"),
    (errors.MissingRequestBody, 400, "MissingRequestBodyError"),
    (errors.BadDigest, 400, "BadDigest"),
    (errors.InvalidDigest, 400, "InvalidDigest"),
    (errors.ValidationFailed, 400, "InvalidRequest"),
    (errors.MissingCredentials, 403, "AccessDenied"),
    (errors.InvalidCredentials, 403, "InvalidAccessKeyId"),
    (errors.ExpiredCredentials, 400, "ExpiredToken"),
    (errors.OrganizationSuspended, 403, "AllAccessDisabled"),
    (errors.OrganizationNotActivated, 403, "AccountProblem"),
    (errors.AuthError, 403, "AccessDenied"),
    (errors.BucketStateConflict, 409, "InvalidBucketState"),
    (errors.Conflict, 409, "ConditionalRequestConflict"),
    (errors.OperationNotImplemented, 501, "NotImplemented"),
    (errors.NotFound, 404, "NoSuchKey"),
    (errors.RateLimited, 503, "SlowDown"),
    (errors.ServiceUnavailable, 503, "ServiceUnavailable"),
    (errors.TaskQueueingError, 503, "ServiceUnavailable"),
]


def error_document(code: str, message: str, resource: str, request: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<Resource>{escape(resource)}</Resource><RequestId>{escape(request)}</RequestId></Error>")


def resource_of(event: APIGatewayProxyEvent) -> str:
    """``/bucket/key`` as S3 names it: the request path without the ``/s3`` mount point."""
    path = event.path or ""
    # A key with a lone surrogate (valid in the event's JSON, refused as a key) must not break the UTF-8 body.
    path = path.encode("utf-8", "replace").decode("utf-8")
    return path[len("/s3"):] if path.startswith("/s3/") else path


def error_response(error: Exception, event: APIGatewayProxyEvent) -> Response:
    status, code, message = 500, "InternalError", "We encountered an internal error. Please try again."
    for error_type, error_status, error_code in _ERRORS:
        if isinstance(error, error_type):
            assert isinstance(error, errors.EraserError)
            status, code, message = error_status, error_code, error.message
            break
    if isinstance(error, errors.RateLimited):
        message = "Reduce your request rate."
    request = request_id(event)
    headers = _identifying_headers(event)
    retry_after = getattr(error, "retry_after", None)
    if isinstance(error, (errors.RateLimited, errors.ServiceUnavailable)) and retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response(status_code=status, content_type="application/xml",
                    body=error_document(code, message, resource_of(event), request), headers=headers)


def delete_object_response(result: DeleteObjectResult, event: APIGatewayProxyEvent) -> Response:
    """204 with S3's headers and no ``Content-Type`` (S3 sends none with a 204). ``x-amz-delete-marker`` is only ever
    sent as ``true``, as S3 and moto do."""
    headers = _identifying_headers(event)
    if result.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    if result.version_id is not None:
        headers["x-amz-version-id"] = result.version_id
    if result.request_charged:
        headers["x-amz-request-charged"] = "requester"
    return Response(status_code=204, content_type=None, body=None, headers=headers)


DRY_RUN_HEADERS = {"x-eraser-dry-run": "true"}


def delete_object_preview_response(preview: DeleteObjectPreview, event: APIGatewayProxyEvent) -> Response:
    """What the real DeleteObject would answer (its 204 and headers, or S3's refusal), marked as a dry run and
    carrying the outcome (``x-eraser-outcome``)."""
    if preview.refusal is not None:
        response = error_response(preview.refusal, event)
    else:
        assert preview.result is not None
        response = delete_object_response(preview.result, event)
    response.headers.update({**DRY_RUN_HEADERS, "x-eraser-outcome": preview.outcome.value})
    return response


def text(value: str) -> str:
    """``value`` as XML character data that parses back to the very same string."""
    return escape(value.encode("utf-8", "replace").decode("utf-8"), _TEXT_ENTITIES)


def element(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{text(value)}</{name}>"


def xml_response(body: str, event: APIGatewayProxyEvent, status: int = 200) -> Response:
    return Response(status_code=status, content_type="application/xml",
                    body='<?xml version="1.0" encoding="UTF-8"?>\n' + body, headers=_identifying_headers(event))


def delete_objects_response(result: DeleteObjectsResult, event: APIGatewayProxyEvent, *,
                            dry_run: bool = False) -> Response:
    """200 with ``DeleteResult``, even when entries failed; quiet mode leaves the Deleted entries out, as S3 does.
    An ``<Error>`` carries the code S3 gives its outcome (docs/dry-run.md): a key still throttled is SlowDown."""
    parts = [f'<DeleteResult xmlns="{S3_NAMESPACE}">']
    if not result.quiet:
        for deleted in result.deleted:
            parts.append("<Deleted>" + element("Key", deleted.key) + element("VersionId", deleted.version_id)
                         + ("<DeleteMarker>true</DeleteMarker>" if deleted.delete_marker else "")
                         + element("DeleteMarkerVersionId", deleted.delete_marker_version_id) + "</Deleted>")
    for failed in result.errors:
        parts.append("<Error>" + element("Key", failed.key) + element("VersionId", failed.version_id)
                     + element("Code", s3_error_code(failed.outcome, failed.code))
                     + element("Message", failed.message) + "</Error>")
    parts.append("</DeleteResult>")
    response = xml_response("".join(parts), event)
    if dry_run:
        # The DeleteResult the real request would answer; nothing was deleted.
        response.headers.update(DRY_RUN_HEADERS)
    return response


def _identifying_headers(event: APIGatewayProxyEvent) -> dict[str, str]:
    """``x-amz-request-id`` and ``x-amz-id-2`` (S3's extended request id, which the QStorage page lists on every
    answer): API Gateway's ``extendedRequestId`` where there is one."""
    request = request_id(event)
    return {"x-amz-request-id": request, "x-amz-id-2": event.request_context.extended_request_id or request}


# --- listing ---------------------------------------------------------------------------------------------------------
def _timestamp(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _encoder(encoding_type: str | None) -> Callable[[str | None], str | None]:
    """``encoding-type=url`` (which botocore always asks for, and decodes): keys and prefixes URL-encoded, so that
    characters XML cannot carry survive the trip."""
    if encoding_type != "url":
        return lambda value: value
    return lambda value: None if value is None else quote(value, safe="/")


def _common_prefixes(page: dict[str, Any], encode: Callable[[str | None], str | None]) -> str:
    return "".join(f"<CommonPrefixes>{element('Prefix', encode(item.get('Prefix')))}</CommonPrefixes>"
                   for item in page.get("CommonPrefixes", []))


def _flag(value: Any) -> str:
    return "true" if value else "false"


def list_objects_response(page: dict[str, Any], bucket: str, encoding_type: str | None, start_after: str | None,
                          max_keys: int, event: APIGatewayProxyEvent) -> Response:
    encode = _encoder(encoding_type)
    contents = "".join(
        "<Contents>" + element("Key", encode(item["Key"])) + element("LastModified", _timestamp(item["LastModified"]))
        + element("ETag", item.get("ETag")) + element("Size", str(item.get("Size", 0)))
        + element("StorageClass", item.get("StorageClass", "STANDARD")) + "</Contents>"
        for item in page.get("Contents", []))
    body = (f'<ListBucketResult xmlns="{S3_NAMESPACE}">' + element("Name", bucket)
            + element("Prefix", encode(page.get("Prefix") or "")) + element("Delimiter", encode(page.get("Delimiter")))
            + element("MaxKeys", str(max_keys)) + element("EncodingType", encoding_type)
            + element("KeyCount", str(page.get("KeyCount", len(page.get("Contents", [])))))
            + element("IsTruncated", _flag(page.get("IsTruncated")))
            + element("ContinuationToken", page.get("ContinuationToken"))
            + element("NextContinuationToken", page.get("NextContinuationToken"))
            + element("StartAfter", encode(start_after)) + contents + _common_prefixes(page, encode)
            + "</ListBucketResult>")
    return xml_response(body, event)


def list_versions_response(page: dict[str, Any], bucket: str, encoding_type: str | None, max_keys: int,
                           event: APIGatewayProxyEvent) -> Response:
    encode = _encoder(encoding_type)
    entries: list[tuple[str, bool, float, str]] = []
    for item in page.get("Versions", []):
        entries.append((item["Key"], not item.get("IsLatest"), -item["LastModified"].timestamp(),
                        "<Version>" + element("Key", encode(item["Key"])) + element("VersionId", item.get("VersionId"))
                        + element("IsLatest", _flag(item.get("IsLatest")))
                        + element("LastModified", _timestamp(item["LastModified"])) + element("ETag", item.get("ETag"))
                        + element("Size", str(item.get("Size", 0)))
                        + element("StorageClass", item.get("StorageClass", "STANDARD")) + "</Version>"))
    for item in page.get("DeleteMarkers", []):
        entries.append((item["Key"], not item.get("IsLatest"), -item["LastModified"].timestamp(),
                        "<DeleteMarker>" + element("Key", encode(item["Key"]))
                        + element("VersionId", item.get("VersionId")) + element("IsLatest", _flag(item.get("IsLatest")))
                        + element("LastModified", _timestamp(item["LastModified"])) + "</DeleteMarker>"))
    # S3 lists a key's versions and markers together, newest first; boto3 hands them over in two lists.
    entries.sort(key=lambda entry: entry[:3])
    body = (f'<ListVersionsResult xmlns="{S3_NAMESPACE}">' + element("Name", bucket)
            + element("Prefix", encode(page.get("Prefix") or "")) + element("KeyMarker", encode(page.get("KeyMarker") or ""))
            + element("VersionIdMarker", page.get("VersionIdMarker") or "")
            + element("NextKeyMarker", encode(page.get("NextKeyMarker")))
            + element("NextVersionIdMarker", page.get("NextVersionIdMarker"))
            + element("MaxKeys", str(max_keys)) + element("Delimiter", encode(page.get("Delimiter")))
            + element("EncodingType", encoding_type) + element("IsTruncated", _flag(page.get("IsTruncated")))
            + "".join(entry[3] for entry in entries) + _common_prefixes(page, encode) + "</ListVersionsResult>")
    return xml_response(body, event)


def bucket_location_response(region: str, event: APIGatewayProxyEvent) -> Response:
    # S3 answers us-east-1 with an empty LocationConstraint.
    location = "" if region == "us-east-1" else text(region)
    return xml_response(f'<LocationConstraint xmlns="{S3_NAMESPACE}">{location}</LocationConstraint>', event)


def head_bucket_response(region: str, event: APIGatewayProxyEvent) -> Response:
    headers = _identifying_headers(event)
    headers["x-amz-bucket-region"] = region
    return Response(status_code=200, content_type=None, body=None, headers=headers)


def head_object_response(found: HeadedObject, event: APIGatewayProxyEvent) -> Response:
    """HeadObject's answer has no body: a delete marker is 404 (405 when named by version id) with
    ``x-amz-delete-marker: true``, as S3 answers it."""
    headers = _identifying_headers(event)
    if found.version_id is not None:
        headers["x-amz-version-id"] = found.version_id
    if not found.exists:
        headers["x-amz-delete-marker"] = "true"
        named = (event.query_string_parameters or {}).get("versionId") is not None
        return Response(status_code=405 if named else 404, content_type=None, body=None, headers=headers)
    if found.etag is not None:
        headers["ETag"] = found.etag
    if found.last_modified is not None:
        headers["Last-Modified"] = format_datetime(found.last_modified.astimezone(UTC), usegmt=True)
    if found.size is not None:
        # A HEAD answer's Content-Length is the object's size (S3); an HTTP front end may still replace it with the
        # length of the empty body (docs/s3-endpoint.md).
        headers["Content-Length"] = str(found.size)
    return Response(status_code=200, content_type=found.content_type, body=None, headers=headers)
