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
from typing import Any

from pydantic import ValidationError

from eraser.auth import Principal
from eraser.errors import AccessDenied, BucketStateConflict, EraserError, InvalidArgument, KeyTooLong
from eraser.observability import logger, tracer
from eraser.storage.deletion import (
    OUT_OF_TIME_CODE,
    DeletedDetail,
    ObjectTarget,
    RetryPolicy,
    S3ObjectStore,
    delete_versions,
)
from eraser.storage.objects import (
    INVALID_VERSION_ID,
    DeleteObjectRequest,
    S3ObjectVersions,
    ensure_not_locked,
)
from eraser.storage.outcomes import Outcome, of_error
from eraser.storage.retries import Deadline
from eraser.tenancy import TenancyRepository


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
class _Judged:
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


def _judge(s3_bucket: str, request: DeleteObjectsRequest, targets: list[DeleteObjectsEntry], client: Any,
           deadline: Deadline) -> _Judged:
    judged = _Judged()
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
            version = S3ObjectVersions(s3_bucket, single, client, deadline).find_version(entry.version_id)
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


def _deleted(target: ObjectTarget, detail: DeletedDetail | None, removes_marker: bool) -> EntryDeleted:
    detail = detail or DeletedDetail()
    if removes_marker:
        # S3 reports a marker removed by id with DeleteMarker and its id; moto leaves both out.
        return EntryDeleted(target.key, target.version_id, True, target.version_id, Outcome.DELETED)
    return EntryDeleted(target.key, target.version_id, detail.delete_marker,
                        detail.delete_marker_version_id if detail.delete_marker else None, detail.outcome)


@tracer.capture_method
def delete_objects(principal: Principal, request: DeleteObjectsRequest, *, tenancy: TenancyRepository | None = None,
                   s3_client: Any | None = None, check_client: Any | None = None, deadline: Deadline | None = None,
                   retry: RetryPolicy | None = None) -> DeleteObjectsResult:
    """Delete the request's entries from a bucket of the caller's organization (``BucketNotFound`` otherwise, and
    ``AccessDenied`` when ``x-amz-expected-bucket-owner`` is not its account), before anything is deleted."""
    organization = principal.organization
    bucket = (tenancy or TenancyRepository()).find_bucket(organization.id, request.bucket)
    if request.expected_bucket_owner is not None and request.expected_bucket_owner != organization.account_id:
        raise AccessDenied()
    # S3 answers each object once however often it is named.
    unique = list({(entry.key, entry.version_id): entry for entry in request.entries}.values())
    time_left = deadline or Deadline.unbounded()
    judged = _judge(bucket.s3_bucket, request, unique, check_client, time_left)
    store = S3ObjectStore(bucket.s3_bucket, bucket.name, organization.account_id, s3_client, deadline=time_left)
    outcome = delete_versions(store, judged.sendable, retry, time_left)
    # Entries the invocation's time did not reach were not deleted (or not knowingly: an answer that never came).
    last_code = outcome.out_of_time.last_code if outcome.out_of_time is not None else None
    unreached_code = last_code or OUT_OF_TIME_CODE
    unreached_message = "Eraser ran out of time before S3 confirmed deleting this object"
    result = DeleteObjectsResult(quiet=request.quiet)
    for entry in unique:
        target = ObjectTarget(entry.key, entry.version_id)
        answer: EntryDeleted | EntryFailed
        if target in judged.answered:
            answer = judged.answered[target]
        elif target in outcome.deleted:
            answer = _deleted(target, outcome.details.get(target), target in judged.removes_marker)
        elif target in outcome.failed:
            failure = outcome.failed[target]
            answer = EntryFailed(target.key, target.version_id, failure.code, failure.message, failure.outcome)
        else:
            answer = EntryFailed(target.key, target.version_id, unreached_code, unreached_message,
                                 of_error(unreached_code))
        if isinstance(answer, EntryDeleted):
            result.deleted.append(answer)
        else:
            result.errors.append(answer)
    logger.info("DeleteObjects done", extra={"bucket_id": bucket.id, "entries": len(unique),
                                             "deleted": len(result.deleted), "failed": len(result.errors)})
    return result
