"""Read-only views of an organization's bucket for S3 clients, which list before they delete (``aws s3 rm
--recursive``, s5cmd's wildcards, boto3's paginators): ListObjectsV2, ListObjectVersions, HeadObject, HeadBucket.

The caller (``operations.objects``) looks the bucket up within the caller's organization (another organization's is
``BucketNotFound``); every call names the organization's account as ``ExpectedBucketOwner``. Page tokens are S3's own continuation tokens
and markers, passed through unchanged: they are opaque already and only ever used on the bucket they came from,
which the caller's organization owns. What S3 answers is returned with the bucket's S3 name left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from eraser import aws
from eraser.errors import BucketNotFound, InvalidArgument, NoSuchKey
from eraser.observability import tracer
from eraser.storage.objects import head_found_delete_marker
from eraser.tenancy import Bucket

MAX_KEYS = 1000


@dataclass(frozen=True)
class ListObjectsQuery:
    prefix: str | None = None
    delimiter: str | None = None
    continuation_token: str | None = None
    start_after: str | None = None
    max_keys: int = MAX_KEYS


@dataclass(frozen=True)
class ListVersionsQuery:
    prefix: str | None = None
    delimiter: str | None = None
    key_marker: str | None = None
    version_id_marker: str | None = None
    max_keys: int = MAX_KEYS


@dataclass(frozen=True)
class HeadedObject:
    """What HeadObject reports. ``exists`` False with ``delete_marker`` True: the current (or named) version is a
    delete marker."""

    exists: bool
    delete_marker: bool = False
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    last_modified: Any = None
    content_type: str | None = None


class _BucketView:
    def __init__(self, bucket: Bucket, owner: str, client: Any | None) -> None:
        self.bucket = bucket
        self.name = bucket.name
        self._owner = owner
        self._s3 = client or aws.s3()

    def call(self, operation: str, **arguments: Any) -> dict[str, Any]:
        arguments = {"Bucket": self.bucket.s3_bucket, "ExpectedBucketOwner": self._owner,
                     **{name: value for name, value in arguments.items() if value is not None}}
        try:
            response: dict[str, Any] = getattr(self._s3, operation)(**arguments)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404") and operation != "head_object":
                raise BucketNotFound(self.name) from error
            if code in ("InvalidArgument", "400"):
                raise InvalidArgument(error.response.get("Error", {}).get("Message") or "Invalid argument") from error
            raise
        return response


@tracer.capture_method
def list_objects(bucket: Bucket, owner: str, query: ListObjectsQuery, *, client: Any | None = None) -> dict[str, Any]:
    view = _BucketView(bucket, owner, client)
    return view.call("list_objects_v2", Prefix=query.prefix, Delimiter=query.delimiter,
                     ContinuationToken=query.continuation_token, StartAfter=query.start_after,
                     MaxKeys=min(query.max_keys, MAX_KEYS))


@tracer.capture_method
def list_versions(bucket: Bucket, owner: str, query: ListVersionsQuery, *,
                  client: Any | None = None) -> dict[str, Any]:
    view = _BucketView(bucket, owner, client)
    return view.call("list_object_versions", Prefix=query.prefix, Delimiter=query.delimiter,
                     KeyMarker=query.key_marker,
                     VersionIdMarker=query.version_id_marker if query.key_marker else None,
                     MaxKeys=min(query.max_keys, MAX_KEYS))


@tracer.capture_method
def head_bucket(bucket: Bucket, owner: str, *, client: Any | None = None) -> None:
    _BucketView(bucket, owner, client).call("head_bucket")


@tracer.capture_method
def head_object(bucket: Bucket, owner: str, key: str, version_id: str | None, *,
                client: Any | None = None) -> HeadedObject:
    view = _BucketView(bucket, owner, client)
    try:
        response = view.call("head_object", Key=key, VersionId=version_id)
    except ClientError as error:
        metadata = error.response.get("ResponseMetadata", {})
        if head_found_delete_marker(error):
            return HeadedObject(exists=False, delete_marker=True,
                                version_id=metadata.get("HTTPHeaders", {}).get("x-amz-version-id"))
        if metadata.get("HTTPStatusCode") == 404:
            raise NoSuchKey(key) from error
        raise
    return HeadedObject(exists=True, version_id=response.get("VersionId"), etag=response.get("ETag"),
                        size=response.get("ContentLength"), last_modified=response.get("LastModified"),
                        content_type=response.get("ContentType"))
