"""Listing a bucket one page at a time, and choosing which listed versions a task deletes.

Every call passes ``ExpectedBucketOwner``: a bucket name that came to belong to another account is refused by S3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class ListedVersion:
    key: str
    version_id: str | None
    size: int
    last_modified: datetime
    is_latest: bool
    is_delete_marker: bool
    # As S3 lists it (quoted); a delete marker has none. Task receipts record it.
    etag: str | None = None


@dataclass(frozen=True)
class VersionPage:
    entries: list[ListedVersion]
    next_key_marker: str | None
    next_version_marker: str | None

    @property
    def is_last(self) -> bool:
        return self.next_key_marker is None


@dataclass(frozen=True)
class ObjectPage:
    entries: list[ListedVersion]
    continuation_token: str | None


def list_versions_page(s3: Any, bucket: str, owner: str, *, key_marker: str | None, version_marker: str | None,
                       page_size: int, prefix: str | None = None) -> VersionPage:
    """One page of ``ListObjectVersions`` in S3's order (key ascending, newest version first), markers merged in.

    An unversioned bucket lists each object once with version id ``null``, which DeleteObjects accepts."""
    arguments: dict[str, Any] = {"Bucket": bucket, "ExpectedBucketOwner": owner, "MaxKeys": page_size}
    if key_marker:
        arguments["KeyMarker"] = key_marker
        if version_marker:
            arguments["VersionIdMarker"] = version_marker
    if prefix:
        arguments["Prefix"] = prefix
    page = s3.list_object_versions(**arguments)
    entries = [ListedVersion(item["Key"], item.get("VersionId"), int(item.get("Size", 0)), item["LastModified"],
                             bool(item.get("IsLatest")), False, item.get("ETag")) for item in page.get("Versions", [])]
    entries += [ListedVersion(item["Key"], item.get("VersionId"), 0, item["LastModified"],
                              bool(item.get("IsLatest")), True) for item in page.get("DeleteMarkers", [])]
    # S3 returns versions and delete markers in two lists; within a key the newest comes first.
    entries.sort(key=lambda entry: (entry.key, not entry.is_latest, -entry.last_modified.timestamp()))
    if page.get("IsTruncated"):
        return VersionPage(entries, page.get("NextKeyMarker"), page.get("NextVersionIdMarker"))
    return VersionPage(entries, None, None)


def list_objects_page(s3: Any, bucket: str, owner: str, *, prefix: str, continuation_token: str | None,
                      page_size: int) -> ObjectPage:
    """One page of current objects under ``prefix`` (bulk delete by folder)."""
    arguments: dict[str, Any] = {"Bucket": bucket, "ExpectedBucketOwner": owner, "MaxKeys": page_size,
                                 "Prefix": prefix}
    if continuation_token:
        arguments["ContinuationToken"] = continuation_token
    page = s3.list_objects_v2(**arguments)
    entries = [ListedVersion(item["Key"], None, int(item.get("Size", 0)), item["LastModified"], True, False,
                             item.get("ETag")) for item in page.get("Contents", [])]
    return ObjectPage(entries, page.get("NextContinuationToken") if page.get("IsTruncated") else None)


def modified_by(entries: list[ListedVersion], cutoff: datetime | None) -> list[ListedVersion]:
    """Versions that existed at ``cutoff`` (what a purge targets); None selects everything.

    S3 reports LastModified in whole seconds, so a version written in the second the task began counts as
    pre-existing."""
    if cutoff is None:
        return list(entries)
    bound = cutoff.replace(microsecond=0)
    return [entry for entry in entries if entry.last_modified <= bound]


@dataclass(frozen=True)
class TrashSelection:
    selected: list[ListedVersion]
    previous_key: str | None
    previous_modified: datetime | None
    # A selected delete marker on top of its key, held until the listing shows whether versions lie beneath it.
    held_marker: ListedVersion | None


def trashed_before(entries: list[ListedVersion], superseded_before: datetime, *, previous_key: str | None,
                   previous_modified: datetime | None, held_marker: ListedVersion | None = None) -> TrashSelection:
    """Noncurrent versions and delete markers trashed at or before ``superseded_before``.

    A version is trashed when the next newer entry of its key (a version or a delete marker) was written, so its
    trashed-at time is that entry's LastModified; a delete marker is trashed at its own LastModified. The newest
    entry of a key that is a version is the live object and is never selected. ``previous_*`` carry the last entry of
    the previous page, because a key's versions may span pages.

    A delete marker on top of its key is only selected once no version lies beneath it: deleting it first would bring
    the version beneath back to life until that version's own batch ran (and, if that batch failed, for good). With
    versions beneath, the versions go in this pass and the marker in the verification pass that follows. The caller
    passes ``held_marker`` from page to page and selects it after the last page."""
    selected: list[ListedVersion] = []
    for entry in entries:
        newest_of_key = entry.key != previous_key
        if held_marker is not None and newest_of_key:
            selected.append(held_marker)
        held_marker = None
        if entry.is_delete_marker:
            trashed_at: datetime | None = entry.last_modified
        elif newest_of_key:
            trashed_at = None
        else:
            trashed_at = previous_modified
        if trashed_at is not None and trashed_at <= superseded_before:
            if entry.is_delete_marker and newest_of_key:
                held_marker = entry
            else:
                selected.append(entry)
        previous_key, previous_modified = entry.key, entry.last_modified
    return TrashSelection(selected, previous_key, previous_modified, held_marker)


def versioning_was_ever_enabled(s3: Any, bucket: str, owner: str) -> bool:
    """False only for a bucket whose versioning was never enabled: it holds one version per key, and listing its
    current objects lists everything. A suspended bucket may still hold older versions."""
    status = s3.get_bucket_versioning(Bucket=bucket, ExpectedBucketOwner=owner).get("Status")
    return status in ("Enabled", "Suspended")


def bucket_exists(s3: Any, bucket: str, owner: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchBucket"):
            return False
        raise
    return True


def bucket_is_empty(s3: Any, bucket: str, owner: str) -> bool:
    """True when no version and no delete marker is left (what DeleteBucket requires)."""
    page = s3.list_object_versions(Bucket=bucket, ExpectedBucketOwner=owner, MaxKeys=1)
    return not page.get("Versions") and not page.get("DeleteMarkers")


def count_current_objects(s3: Any, bucket: str, owner: str, *, cap: int) -> int | None:
    """The number of current objects when there are at most ``cap``, else None: counting stops at ``cap`` so a huge
    bucket is never listed on a request path."""
    arguments: dict[str, Any] = {"Bucket": bucket, "ExpectedBucketOwner": owner, "MaxKeys": min(cap, 1000)}
    counted = 0
    while True:
        try:
            page = s3.list_objects_v2(**arguments)
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchBucket":
                return 0  # gone from S3 already: nothing will be deleted
            raise
        counted += len(page.get("Contents", []))
        if not page.get("IsTruncated"):
            return counted
        if counted >= cap:
            return None
        arguments["ContinuationToken"] = page["NextContinuationToken"]
        arguments["MaxKeys"] = min(cap - counted, 1000)


def abort_multipart_uploads(s3: Any, bucket: str, owner: str, *, initiated_before: datetime | None,
                            keep_going: Callable[[], bool]) -> tuple[int, bool]:
    """Abort incomplete multipart uploads (invisible to listings, billed, and they do not block DeleteBucket).

    Returns (aborted, finished): ``finished`` is False when ``keep_going`` asked to stop before the end."""
    aborted = 0
    arguments: dict[str, Any] = {"Bucket": bucket, "ExpectedBucketOwner": owner}
    while True:
        page = s3.list_multipart_uploads(**arguments)
        for upload in page.get("Uploads", []):
            if initiated_before is not None and upload["Initiated"] > initiated_before:
                continue
            try:
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"],
                                          ExpectedBucketOwner=owner)
                aborted += 1
            except ClientError as error:
                # Completed or aborted meanwhile (or by a previous attempt of this step).
                if error.response["Error"]["Code"] != "NoSuchUpload":
                    raise
        if not page.get("IsTruncated"):
            return aborted, True
        if not keep_going():
            return aborted, False
        arguments["KeyMarker"] = page.get("NextKeyMarker")
        arguments["UploadIdMarker"] = page.get("NextUploadIdMarker")
