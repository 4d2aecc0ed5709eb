"""Read-only views of an organization's bucket for S3 clients, which list before they delete (``aws s3 rm
--recursive``, s5cmd's wildcards, boto3's paginators): ListObjectsV2, ListObjectVersions, HeadObject, HeadBucket.

The caller (``operations.objects``) looks the bucket up within the caller's organization (another organization's is
``BucketNotFound``); every call goes through its gateway (``storage.gateway``), which names the organization's account
as ``ExpectedBucketOwner``. Page tokens are S3's own continuation tokens
and markers, passed through unchanged: they are opaque already and only ever used on the bucket they came from,
which the caller's organization owns. What S3 answers is returned with the bucket's S3 name left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eraser.errors import BucketNotFound, InvalidArgument, NoSuchKey
from eraser.observability import tracer
from eraser.storage import gateway
from eraser.storage.gateway import S3Error
from eraser.tenancy import Bucket

MAX_KEYS = 1000
Result = TypeVar("Result")


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
        self.s3 = gateway.open_bucket(bucket.s3_bucket, owner, client=client)

    def call(self, operation: Callable[[], Result], *, missing_bucket_is_not_found: bool = True) -> Result:
        try:
            return operation()
        except S3Error as error:
            if error.code in ("NoSuchBucket", "404") and missing_bucket_is_not_found:
                raise BucketNotFound(self.name) from error
            if error.code in ("InvalidArgument", "400"):
                raise InvalidArgument(error.message or "Invalid argument") from error
            raise


@tracer.capture_method
def list_objects(bucket: Bucket, owner: str, query: ListObjectsQuery, *, client: Any | None = None) -> dict[str, Any]:
    view = _BucketView(bucket, owner, client)
    return view.call(lambda: view.s3.list_objects(
        prefix=query.prefix, delimiter=query.delimiter, continuation_token=query.continuation_token,
        start_after=query.start_after, max_keys=min(query.max_keys, MAX_KEYS)))


@tracer.capture_method
def list_versions(bucket: Bucket, owner: str, query: ListVersionsQuery, *,
                  client: Any | None = None) -> dict[str, Any]:
    view = _BucketView(bucket, owner, client)
    return view.call(lambda: view.s3.list_object_versions(
        prefix=query.prefix, delimiter=query.delimiter, key_marker=query.key_marker,
        version_id_marker=query.version_id_marker if query.key_marker else None,
        max_keys=min(query.max_keys, MAX_KEYS)))


@tracer.capture_method
def head_bucket(bucket: Bucket, owner: str, *, client: Any | None = None) -> None:
    view = _BucketView(bucket, owner, client)
    view.call(view.s3.head_bucket)


@tracer.capture_method
def head_object(bucket: Bucket, owner: str, key: str, version_id: str | None, *,
                client: Any | None = None) -> HeadedObject:
    view = _BucketView(bucket, owner, client)
    try:
        response = view.call(lambda: view.s3.head_object(key, version_id=version_id),
                             missing_bucket_is_not_found=False)
    except S3Error as error:
        if error.found_delete_marker:
            return HeadedObject(exists=False, delete_marker=True, version_id=error.headers.get("x-amz-version-id"))
        if error.status == 404:
            raise NoSuchKey(key) from error
        raise
    return HeadedObject(exists=True, version_id=response.get("VersionId"), etag=response.get("ETag"),
                        size=response.get("ContentLength"), last_modified=response.get("LastModified"),
                        content_type=response.get("ContentType"))
