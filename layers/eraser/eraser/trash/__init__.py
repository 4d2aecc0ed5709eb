"""Trash: what was deleted from a trash-enabled bucket, kept for its retention period.

Trash is S3 versioning read a certain way (see docs/trash.md):
- a bucket with trash enabled has versioning enabled, so a delete without ``versionId`` adds a delete marker and the
  version it hid becomes noncurrent: that version is *in trash*; an overwrite makes the old version noncurrent too;
- a trash entry is a noncurrent object version; it was *trashed at* the ``LastModified`` of the version or delete
  marker immediately newer than it (the one that superseded it);
- restoring a key removes the delete markers stacked on top of it, so its newest version is current again;
- purging removes noncurrent versions superseded before a cutoff, and the delete markers left with nothing under
  them. A current object version is never purged.

Listing order is S3's: keys in UTF-8 binary order, each key's versions newest first (``ListObjectVersions`` pages as
the task engine reads them, versions and delete markers merged back by ``LastModified``). Every S3 call goes through
the bucket's gateway (``storage.gateway``), which names the organization's account as ``ExpectedBucketOwner``; when an
entry went to trash is the task engine's rule (``tasks.selection.trashed_at``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from eraser import safe_json
from eraser.errors import InvalidPageToken, MalformedJson, TrashNotEnabled, ValidationFailed
from eraser.storage import gateway
from eraser.storage.gateway import BucketGateway, ListedVersion, S3Error
from eraser.storage.keys import MAX_KEY_BYTES, fits_in_xml
from eraser.tasks.selection import trashed_at
from eraser.tenancy import Bucket, Organization

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
# One listing request reads at most this many S3 pages (1000 entries each) so that it answers well inside API
# Gateway's 29 seconds even when a bucket has many live objects and little trash.
MAX_S3_PAGES_PER_REQUEST = 10
S3_PAGE_SIZE = 1000  # ListObjectVersions' maximum
MAX_RESTORE_KEYS = 100
# Scheduled retention purges are requested by "schedule:trash-purge:<run id>".
SCHEDULE_REQUESTER = "schedule:trash-purge"


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


# --- listing ---------------------------------------------------------------------------------------------------------
class TrashReason(StrEnum):
    DELETED = "deleted"
    OVERWRITTEN = "overwritten"


class TrashEntry(BaseModel):
    key: str
    version_id: str
    size: int
    deleted_at: datetime = Field(description="LastModified of the delete marker or version that superseded it")
    deleted_by: str | None = Field(default=None, description="Not recorded: S3 cannot tag delete markers")
    reason: TrashReason
    restorable: bool = Field(description="Restoring the key makes this version current again")


class TrashPage(BaseModel):
    entries: list[TrashEntry]
    next_page_token: str | None


class _PageToken(BaseModel):
    """Where the previous page stopped: the last entry S3 listed, and what the next entry needs to know about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    b: StrictStr  # bucket id: a token is only good for the bucket it was issued for
    k: StrictStr = Field(min_length=1, max_length=MAX_KEY_BYTES)
    v: StrictStr = Field(min_length=1, max_length=1024)
    t: StrictInt  # LastModified of that entry, unix seconds
    m: StrictBool  # that entry is a delete marker
    r: StrictBool  # only delete markers so far for this key (the next version would be the restorable one)


def _encode_token(token: _PageToken) -> str:
    raw = json.dumps(token.model_dump(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_token(text: str, bucket: Bucket) -> _PageToken:
    invalid = InvalidPageToken()
    if len(text) > 4096:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        token = _PageToken.model_validate(safe_json.loads(raw))
    except (ValueError, MalformedJson, ValidationError) as error:
        raise invalid from error
    # Tokens are not signed: one naming a key no S3 listing could carry was not issued here (S3, and moto with a
    # 500, refuse such a key as a KeyMarker).
    if token.b != bucket.id or not fits_in_xml(token.k):
        raise invalid
    return token


def require_trash(bucket: Bucket) -> None:
    if not bucket.configuration.trash_enabled:
        raise TrashNotEnabled(bucket.name)


def list_trash(bucket: Bucket, owner: str, page_token: str | None = None,
               page_size: int = DEFAULT_PAGE_SIZE) -> TrashPage:
    """One page of the bucket's trash, in S3's order. A page may be short (even empty) with a ``next_page_token``
    when the bucket holds many live objects: a request reads at most ``MAX_S3_PAGES_PER_REQUEST`` S3 pages."""
    require_trash(bucket)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"page_size must be between 1 and {MAX_PAGE_SIZE}",
                               [{"loc": ["query", "page_size"], "msg": "out of range", "type": "value_error"}])
    position = _decode_token(page_token, bucket) if page_token else None
    entries: list[TrashEntry] = []
    key_marker, version_marker = (position.k, position.v) if position else (None, None)
    last = position
    s3 = gateway.open_bucket(bucket.s3_bucket, owner)
    for _ in range(MAX_S3_PAGES_PER_REQUEST):
        page = s3.list_versions_page(key_marker=key_marker, version_marker=version_marker, page_size=S3_PAGE_SIZE)
        for version in page.entries:
            newer = last if last is not None and last.k == version.key else None
            # The trash lists versions only; a delete marker is what trashed the version beneath it.
            deleted_at = None if newer is None or version.is_latest or version.is_delete_marker else trashed_at(
                version, datetime.fromtimestamp(newer.t, UTC))
            if newer is not None and deleted_at is not None:
                entries.append(TrashEntry(
                    key=version.key, version_id=version.version_id or "null", size=version.size,
                    deleted_at=deleted_at,
                    reason=TrashReason.DELETED if newer.m else TrashReason.OVERWRITTEN, restorable=newer.r))
            top_markers = version.is_delete_marker and (version.is_latest or (newer is not None and newer.r))
            last = _PageToken(b=bucket.id, k=version.key, v=version.version_id or "null",
                              t=int(version.last_modified.timestamp()), m=version.is_delete_marker, r=top_markers)
            if len(entries) == page_size:
                return TrashPage(entries=entries, next_page_token=_encode_token(last))
        if page.is_last:
            return TrashPage(entries=entries, next_page_token=None)
        key_marker, version_marker = page.next_key_marker, page.next_version_marker
    assert last is not None
    return TrashPage(entries=entries, next_page_token=_encode_token(last))


# --- restore ---------------------------------------------------------------------------------------------------------
class RestoreErrorCode(StrEnum):
    NOT_IN_TRASH = "not_in_trash"
    UNSUPPORTED_KEY = "unsupported_key"
    ACCESS_DENIED = "access_denied"
    INTERNAL_ERROR = "internal_error"


class RestoredKey(BaseModel):
    key: str
    version_id: str = Field(description="The version that is current again")
    removed_delete_markers: list[str]


class RestoreFailure(BaseModel):
    key: str
    code: RestoreErrorCode
    message: str


class RestoreResult(BaseModel):
    restored: list[RestoredKey]
    errors: list[RestoreFailure]


def _top_of_key(s3: BucketGateway, key: str) -> list[ListedVersion]:
    """The key's newest entries, down to its newest object version and whatever else was written in that version's
    second (S3 reports whole seconds, so the order of entries within one second is not known)."""
    found: list[ListedVersion] = []
    newest_object: ListedVersion | None = None
    key_marker: str | None = None
    version_marker: str | None = None
    while True:
        # The key is the smallest name with itself as prefix, so its versions come first; longer names follow.
        page = s3.list_versions_page(key_marker=key_marker, version_marker=version_marker, page_size=100, prefix=key)
        for version in page.entries:
            if version.key != key or (newest_object and version.last_modified < newest_object.last_modified):
                return found
            found.append(version)
            if newest_object is None and not version.is_delete_marker:
                newest_object = version
        if page.is_last:
            return found
        key_marker, version_marker = page.next_key_marker, page.next_version_marker


def _restore_key(s3: BucketGateway, key: str) -> RestoredKey | RestoreFailure:
    top = _top_of_key(s3, key)
    if not top or not top[0].is_delete_marker:
        reason = "the object is not deleted" if top else "no such key in this bucket"
        return RestoreFailure(key=key, code=RestoreErrorCode.NOT_IN_TRASH, message=f"Not in trash: {reason}")
    objects = [version for version in top if not version.is_delete_marker]
    if not objects:
        return RestoreFailure(key=key, code=RestoreErrorCode.NOT_IN_TRASH,
                              message="Not in trash: nothing is left under the delete marker (purged)")
    markers = [version.version_id or "null" for version in top if version.is_delete_marker]
    for marker in markers:
        try:
            # Deleting a marker by its version id is permanent and brings back whatever it hid; a marker that is
            # not on top (a new version was written meanwhile, or it shares a second with the version) hides
            # nothing, and removing it changes nothing visible.
            s3.delete_object(key, version_id=marker)
        except S3Error as error:
            code = error.code
            if code == "AccessDenied":
                return RestoreFailure(key=key, code=RestoreErrorCode.ACCESS_DENIED, message="Access Denied")
            return RestoreFailure(key=key, code=RestoreErrorCode.INTERNAL_ERROR, message=f"S3 error {code}")
    return RestoredKey(key=key, version_id=objects[0].version_id or "null", removed_delete_markers=markers)


def restore(bucket: Bucket, owner: str, keys: Sequence[str]) -> RestoreResult:
    """Restore each key: remove the delete markers that are its newest versions. A key that is live, absent or
    purged, or that XML cannot carry, is a per-key error; the others are restored."""
    require_trash(bucket)
    restored: list[RestoredKey] = []
    failures: list[RestoreFailure] = []
    s3 = gateway.open_bucket(bucket.s3_bucket, owner)
    for key in keys:
        if not fits_in_xml(key):
            # Finding the key's markers takes a ListObjectVersions by prefix, whose XML answer cannot carry such a
            # key unencoded (moto answers 500 even with EncodingType=url): refused before any S3 call.
            failures.append(RestoreFailure(key=key, code=RestoreErrorCode.UNSUPPORTED_KEY,
                                           message="The key holds characters XML 1.0 cannot carry (control "
                                                   "characters, U+FFFE, U+FFFF); it cannot be restored here"))
            continue
        outcome = _restore_key(s3, key)
        if isinstance(outcome, RestoredKey):
            restored.append(outcome)
        else:
            failures.append(outcome)
    return RestoreResult(restored=restored, errors=failures)


# --- retention -------------------------------------------------------------------------------------------------------
def retention_days(bucket: Bucket, organization: Organization) -> int:
    return bucket.configuration.trash_retention_days or organization.trash_retention_days


def retention_cutoff(bucket: Bucket, organization: Organization, now: datetime) -> datetime:
    """Trash superseded before this moment is past its retention."""
    return now - timedelta(days=retention_days(bucket, organization))


def trash_buckets(buckets: Iterable[Bucket]) -> list[Bucket]:
    return [bucket for bucket in buckets if bucket.configuration.trash_enabled]


