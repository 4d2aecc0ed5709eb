"""S3's DeleteObjects on a bucket of the caller's organization: up to 1,000 keys or versions, each answered as
Deleted or Error.

Every entry is judged before anything is deleted, and only then are the deletable ones sent in one DeleteObjects call
(``storage.deletion.delete_versions``, the deletion loop, which also retries the keys S3 throttles):

- a version id is sent only once a HEAD (or a listing, where the backend refuses that HEAD) has shown that the key
  has it. S3 answers an id naming nothing as Deleted and deletes nothing, and so does Eraser, without sending it:
  moto ignores an id it does not know on a bucket that is not versioning-Enabled and deletes the current object;
- a malformed version id is that entry's ``InvalidArgument``, a key S3 could not store its ``KeyTooLongError`` or
  ``InvalidArgument``; a version under Object Lock is its ``AccessDenied``; an entry with S3's per-object conditions
  (``ETag``, ``LastModifiedTime``, ``Size``) is its ``NotImplemented``, never deleted unconditionally;
- a removed delete marker is reported as one (``DeleteMarker``, ``DeleteMarkerVersionId``), also where the backend
  leaves that out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from eraser.errors import AccessDenied, BucketStateConflict, EraserError, InvalidArgument, KeyTooLong
from eraser.storage.deletion import (
    DeletedDetail,
    ObjectTarget,
)
from eraser.storage.gateway import BucketGateway
from eraser.storage.objects import (
    INVALID_VERSION_ID,
    DeleteObjectRequest,
    S3ObjectVersions,
    ensure_not_locked,
)
from eraser.storage.outcomes import Outcome, of_error


@dataclass(frozen=True)
class DeleteObjectsEntry:
    key: str
    version_id: str | None = None
    conditional: bool = False


@dataclass(frozen=True)
class DeleteObjectsRequest:
    bucket: str
    entries: list[DeleteObjectsEntry]
    quiet: bool = False
    expected_bucket_owner: str | None = None
    bypass_governance_retention: bool = False


@dataclass(frozen=True)
class EntryDeleted:
    key: str
    version_id: str | None = None
    delete_marker: bool = False
    delete_marker_version_id: str | None = None
    outcome: Outcome = Outcome.DELETED


@dataclass(frozen=True)
class EntryFailed:
    key: str
    version_id: str | None
    code: str
    message: str
    outcome: Outcome = Outcome.FAILED


@dataclass
class DeleteObjectsResult:
    """One answer per distinct entry of the request, in the request's order."""

    deleted: list[EntryDeleted] = field(default_factory=list)
    errors: list[EntryFailed] = field(default_factory=list)
    quiet: bool = False


@dataclass
class JudgedEntries:
    sendable: list[ObjectTarget] = field(default_factory=list)
    # Entries answered without a call to S3 (no such version), and entries refused.
    answered: dict[ObjectTarget, EntryDeleted | EntryFailed] = field(default_factory=dict)
    removes_marker: set[ObjectTarget] = field(default_factory=set)


_CODES: list[tuple[type[EraserError], str]] = [
    (KeyTooLong, "KeyTooLongError"),
    (InvalidArgument, "InvalidArgument"),
    (AccessDenied, "AccessDenied"),
    (BucketStateConflict, "InvalidBucketState"),
]


def _refused(target: ObjectTarget, error: EraserError, outcome: Outcome | None = None) -> EntryFailed:
    code = next((code for kind, code in _CODES if isinstance(error, kind)), "InvalidArgument")
    return EntryFailed(target.key, target.version_id, code, error.message, outcome or of_error(code))


def judge_entries(bucket: BucketGateway, request: DeleteObjectsRequest, targets: list[DeleteObjectsEntry]
                  ) -> JudgedEntries:
    judged = JudgedEntries()
    for entry in targets:
        target = ObjectTarget(entry.key, entry.version_id)
        if entry.conditional:
            judged.answered[target] = EntryFailed(
                entry.key, entry.version_id, "NotImplemented",
                "Per-object conditions (ETag, LastModifiedTime, Size) are not implemented; nothing was deleted")
            continue
        try:
            # The same rules as DeleteObject: the key S3 could store, the version id's form.
            single = DeleteObjectRequest(bucket=request.bucket, key=entry.key, version_id=entry.version_id,
                                         expected_bucket_owner=request.expected_bucket_owner,
                                         bypass_governance_retention=request.bypass_governance_retention)
        except (InvalidArgument, KeyTooLong) as error:
            judged.answered[target] = _refused(target, error)
            continue
        except ValidationError:
            judged.answered[target] = EntryFailed(entry.key, entry.version_id, "InvalidArgument",
                                                  INVALID_VERSION_ID)
            continue
        if entry.version_id is None:
            judged.sendable.append(target)
            continue
        try:
            version = S3ObjectVersions(bucket, single).find_version(entry.version_id)
        except (InvalidArgument, AccessDenied, BucketStateConflict) as error:
            judged.answered[target] = _refused(target, error)
            continue
        if version.exists and not version.is_delete_marker:
            try:
                ensure_not_locked(version, bypass_governance=request.bypass_governance_retention)
            except AccessDenied as error:
                judged.answered[target] = _refused(target, error, Outcome.BLOCKED_BY_RETENTION)
                continue
        if not version.exists:
            # Eraser checked: the key has no such version. S3 would answer Deleted, and so does the XML.
            judged.answered[target] = EntryDeleted(entry.key, entry.version_id, outcome=Outcome.ALREADY_ABSENT)
            continue
        if version.is_delete_marker:
            judged.removes_marker.add(target)
        judged.sendable.append(target)
    return judged


def deleted_entry(target: ObjectTarget, detail: DeletedDetail | None, removes_marker: bool) -> EntryDeleted:
    detail = detail or DeletedDetail()
    if removes_marker:
        # S3 reports a marker removed by id with DeleteMarker and its id; moto leaves both out.
        return EntryDeleted(target.key, target.version_id, True, target.version_id, Outcome.DELETED)
    return EntryDeleted(target.key, target.version_id, detail.delete_marker,
                        detail.delete_marker_version_id if detail.delete_marker else None, detail.outcome)
