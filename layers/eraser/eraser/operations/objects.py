"""What the object routes do: bulk delete (Seahorse), S3's DeleteObject and DeleteObjects, and the S3 endpoint's
read-only HeadObject, HeadBucket, ListObjectsV2 and ListObjectVersions.

Each entry point takes the authenticated ``Principal`` and the route's request, looks the bucket up within the
caller's organization (another organization's bucket is ``BucketNotFound``), and calls storage for the S3 work.

Bulk delete, step by step:
1. ``plan_deletion`` collects the keys (the listed ones once, duplicates once) and lists each path, stopping as soon
   as the total passes the synchronous limit;
2. ``admit_synchronously`` is the one place that decides whether the request may run now; one over the limit
   becomes a ``bulk_delete`` task of the task engine (``start_bulk_task``) and deletes nothing synchronously; the
   task-creation rate limit is enforced where that task is created, and only then;
3. ``delete_keys`` (the deletion loop every path shares, ``storage.deletion``) deletes with DeleteObjects in batches
   of at most 1000 keys, retrying the keys S3 reports as throttled or failed internally; bulk delete reports every
   other per-key error with S3's own code, and the keys still failing after the last attempt.

Every S3 call goes through the bucket's gateway opened with the invocation's deadline (``storage.gateway``): attempted
once by botocore and retried by Eraser only while the invocation has time left (``retries.Deadline``): botocore's own retries under a throttling S3 outlasted the function
and API Gateway answered 502. Listing that does not finish in time makes the request a task; deleting that does not
finish in time hands the keys left to a task (``hand_off``), and the answer reports what was deleted before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, model_validator

from eraser.auth import Principal
from eraser.config import settings
from eraser.errors import (
    AccessDenied,
    EraserError,
    InvalidArgument,
    PreconditionFailed,
    RateLimited,
    RequestTooLarge,
    RetentionProtected,
    ServiceUnavailable,
    TaskQueueingError,
)
from eraser.observability import logger, metrics, tracer
from eraser.operations.tasks import DryRun, preview
from eraser.ratelimit import LimitedOperation, enforce_rate_limit
from eraser.storage import browse, gateway
from eraser.storage.browse import HeadedObject
from eraser.storage.browse import ListObjectsQuery as ListObjectsQuery  # the S3 listing routes' requests
from eraser.storage.browse import ListVersionsQuery as ListVersionsQuery
from eraser.storage.conditions import normalize_etag
from eraser.storage.delete_objects import (
    DeleteObjectsEntry,
    DeleteObjectsRequest,
    DeleteObjectsResult,
    EntryDeleted,
    EntryFailed,
    JudgedEntries,
    deleted_entry,
    judge_entries,
)
from eraser.storage.deletion import (
    OUT_OF_TIME_CODE,
    KeyFailure,
    ObjectStore,
    ObjectTarget,
    RetryPolicy,
    S3ObjectStore,
    delete_keys,
    delete_versions,
)
from eraser.storage.gateway import REQUESTER
from eraser.storage.keys import ObjectKey, folder_prefix
from eraser.storage.objects import (
    INVALID_VERSION_ID,
    DeleteObjectRequest,
    DeleteObjectResult,
    S3ObjectVersions,
    ensure_not_locked,
    well_formed_version_id,
)
from eraser.storage.outcomes import Outcome, of_error
from eraser.storage.plan import EntryPlanner
from eraser.storage.retries import RETRY_AFTER_SECONDS, OutOfTime
from eraser.storage.retries import Deadline as Deadline  # handlers bound their work with it (Deadline.of)
from eraser.tasks import Selection, Task, TaskKind, create_task, receipts
from eraser.tenancy import Bucket, Organization, TenancyRepository

MAX_OBJECT_KEYS = 1000
# Every path costs at least one ListObjectsV2 call before anything is deleted; 100 keeps a request well inside
# API Gateway's 29 seconds.
MAX_PATHS = 100
PATH_NOT_FOUND_CODE = "404"
PATH_NOT_FOUND_MESSAGE = "Objects not exist in path"
# Kept back from S3 work to record a task of what is left (a rate-limit update, a DynamoDB write, an SQS send).
HANDOFF_RESERVE_SECONDS = 3.0
# Listing stops this long before the S3 work's deadline, so that what it found can still be deleted in the same
# invocation (10 DeleteObjects calls of 1000 keys, well under a second each on a healthy S3). A listing that does not
# finish by then makes the request a task, as one over the synchronous limit does.
DELETION_RESERVE_SECONDS = 10.0

FolderPath = Annotated[StrictStr, AfterValidator(folder_prefix)]


# --- request and result --------------------------------------------------------------------------------------------
class BulkDeleteQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: StrictStr = Field(min_length=1, description="The Eraser bucket's name (or id) in the caller's organization")


class BulkDeleteRequest(BaseModel):
    """Both lists are required, as on the Seahorse page; one of them may be empty, not both. Each path is validated
    and replaced by the folder prefix it stands for (``pdf`` becomes ``pdf/``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object_keys: list[ObjectKey] = Field(max_length=MAX_OBJECT_KEYS)
    path: list[FolderPath] = Field(max_length=MAX_PATHS)

    @model_validator(mode="after")
    def _names_something(self) -> BulkDeleteRequest:
        if not self.object_keys and not self.path:
            raise ValueError("object_keys and path are both empty: name at least one object key or path")
        return self

    @property
    def prefixes(self) -> list[str]:
        return list(dict.fromkeys(self.path))


class DeletionError(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The object key, or the folder prefix of a path, that was not deleted")
    error_code: str = Field(description="S3's per-key error code (AccessDenied, SlowDown...), or 404 for a path")
    error_message: str
    outcome: Outcome = Field(description="What happened to the key (docs/dry-run.md); a path that matched nothing "
                                         "is already_absent")


class BulkDeleteResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    deleted_objects: list[str]
    errors: list[DeletionError]
    # Set when the request was over the synchronous limit, or its listing or deleting ran out of time: this task
    # deletes what ``deleted_objects`` and ``errors`` do not account for.
    task: Task | None = None
    # The outcome of each key in ``deleted_objects`` and ``errors`` (a path that matched nothing by its prefix):
    # Seahorse's ``deleted_objects`` is a list of keys, so a marker created there shows only here.
    outcomes: dict[str, Outcome] = Field(default_factory=dict)

    @property
    def deleted_object_count(self) -> int:
        return len(self.deleted_objects)


# --- planning and the synchronous limit ----------------------------------------------------------------------------
@dataclass
class DeletionPlan:
    keys: list[str]
    empty_prefixes: list[str]
    # Listing stopped because the request covers more objects than the limit; ``keys`` is then incomplete.
    over_limit: bool
    # Listing stopped because its time ran out (S3 slow or throttling); ``keys`` is then incomplete.
    out_of_time: bool = False


def plan_deletion(store: ObjectStore, request: BulkDeleteRequest, limit: int,
                  listing_deadline: Deadline | None = None) -> DeletionPlan:
    """Every key to delete, once, in the caller's order, then each path's keys in listing order. Stops listing as
    soon as more than ``limit`` objects are known, so an oversized request costs at most a few list calls, or once
    ``listing_deadline`` has passed or the store ran out of time (``OutOfTime``)."""
    window = listing_deadline or Deadline.unbounded()
    targets: dict[str, None] = dict.fromkeys(request.object_keys)
    empty_prefixes: list[str] = []
    if len(targets) > limit:
        return DeletionPlan(list(targets), empty_prefixes, over_limit=True)
    try:
        for prefix in request.prefixes:
            matched = False
            for key in store.list_keys(prefix):
                matched = True
                targets.setdefault(key)
                if len(targets) > limit:
                    return DeletionPlan(list(targets), empty_prefixes, over_limit=True)
                if window.passed:
                    return DeletionPlan(list(targets), empty_prefixes, over_limit=False, out_of_time=True)
            if not matched:
                empty_prefixes.append(prefix)
    except OutOfTime:
        return DeletionPlan(list(targets), empty_prefixes, over_limit=False, out_of_time=True)
    return DeletionPlan(list(targets), empty_prefixes, over_limit=False)


def admit_synchronously(plan: DeletionPlan) -> bool:
    """The one decision whether a request is deleted now. Above the limit, or when listing could not tell in time
    whether it is above, nothing is deleted here: the request becomes a background task (``bulk_delete`` kind) that
    lists the paths and deletes in batches."""
    return not plan.over_limit and not plan.out_of_time


def start_bulk_task(organization: Organization, bucket: Bucket, request: BulkDeleteRequest,
                    requested_by: str) -> Task:
    """A task deleting the request's keys and every current object under its paths that existed now. Raises
    ``RequestTooLarge`` if the keys do not fit in one task record."""
    selection = Selection.keys_and_prefixes(keys=list(dict.fromkeys(request.object_keys)),
                                            prefixes=request.prefixes)
    return create_task(organization, TaskKind.BULK_DELETE, [bucket], requested_by, selection)


def hand_off(principal: Principal, bucket: Bucket, keys: list[str]) -> Task:
    """A task deleting ``keys`` (without version id, as here): what a synchronous request's time did not cover.
    The keys are known, so the task deletes exactly them, not whatever the request's paths hold by then. Raises
    ``RateLimited`` (the task-creation limit), ``RequestTooLarge`` or ``TaskQueueingError`` when no task can take
    them."""
    enforce_rate_limit(LimitedOperation.BULK_DELETE_TASK, principal)
    return create_task(principal.organization, TaskKind.BULK_DELETE, [bucket], principal.subject,
                       Selection.keys_and_prefixes(keys=keys))


def _retry_after(refusal: Exception) -> int:
    return max(RETRY_AFTER_SECONDS, refusal.retry_after if isinstance(refusal, RateLimited) else 0)


# --- bulk delete -------------------------------------------------------------------------------------------------
def bulk_delete(principal: Principal, bucket_identifier: str, request: BulkDeleteRequest, *,
                tenancy: TenancyRepository | None = None, store: ObjectStore | None = None,
                limit: int | None = None, retry: RetryPolicy | None = None,
                deadline: Deadline | None = None) -> BulkDeleteResult:
    """Delete the request's keys and folders from the caller's organization's bucket ``bucket_identifier`` (name
    or id), within ``deadline`` (the invocation's time left).

    Raises ``BucketNotFound`` (also for another organization's bucket) before anything is deleted. Per-key failures
    and paths that match nothing are in the result's ``errors``. A request over the synchronous limit, or whose
    listing does not finish in time, deletes nothing here and answers with the task that deletes it
    (``result.task``); the task-creation rate limit, which only applies when a task is created, may refuse it
    (``RateLimited``). When deleting runs out of time, the keys left go to a task too and the
    result lists what was deleted before; if no task can take them, they are per-key errors, or, when nothing was
    deleted at all, ``ServiceUnavailable`` (503 with Retry-After) is raised.
    """
    time_left = deadline or Deadline.unbounded()
    # S3 work stops in time to record a task of what is left, and listing early enough to delete what it found.
    work_deadline = time_left.less(HANDOFF_RESERVE_SECONDS)
    organization = principal.organization
    bucket = (tenancy or TenancyRepository()).find_bucket(organization.id, bucket_identifier)
    objects = store or S3ObjectStore(gateway.open_bucket(bucket.s3_bucket, organization.account_id,
                                                         deadline=work_deadline), bucket.name)
    sync_limit = limit if limit is not None else settings().sync_delete_limit
    plan = plan_deletion(objects, request, sync_limit, work_deadline.less(DELETION_RESERVE_SECONDS))
    if not admit_synchronously(plan):
        return _whole_request_as_task(principal, bucket, request, plan, sync_limit)
    outcome = delete_keys(objects, plan.keys, retry, work_deadline)
    left = outcome.left_of(plan.keys) if outcome.out_of_time is not None else []
    deleted = [key for key in plan.keys if key in outcome.deleted]
    task: Task | None = None
    unhandled: dict[str, KeyFailure] = {}
    if left:
        try:
            task = hand_off(principal, bucket, left)
        except (RateLimited, RequestTooLarge, TaskQueueingError) as refusal:
            logger.warning("Bulk delete ran out of time and no task could take the keys left",
                           extra={"bucket_id": bucket.id, "left": len(left), "deleted": len(deleted),
                                  "refusal": type(refusal).__name__})
            if not deleted:
                raise ServiceUnavailable("S3 did not complete the deletion in time. Please try again.",
                                         retry_after=_retry_after(refusal)) from refusal
            assert outcome.out_of_time is not None
            code = outcome.out_of_time.last_code or OUT_OF_TIME_CODE
            unhandled = {key: KeyFailure(key=key, code=code, message="Not deleted: the request ran out of time while "
                                         "S3 was slow or throttling. Please delete it again.") for key in left}
        else:
            logger.info("Bulk delete ran out of time; a task deletes the keys left",
                        extra={"bucket_id": bucket.id, "task_id": task.id, "left": len(left),
                               "deleted": len(deleted)})
    failures = {**outcome.failed, **unhandled}
    errors = [DeletionError(key=key, error_code=failures[key].code, error_message=failures[key].message,
                            outcome=failures[key].outcome)
              for key in plan.keys if key in failures and key not in outcome.deleted]
    errors += [DeletionError(key=prefix, error_code=PATH_NOT_FOUND_CODE, error_message=PATH_NOT_FOUND_MESSAGE,
                             outcome=Outcome.ALREADY_ABSENT)
               for prefix in plan.empty_prefixes]
    outcomes = outcome.outcomes
    result = BulkDeleteResult(
        deleted_objects=deleted,
        errors=errors,
        task=task,
        outcomes={**{key: outcomes[key] for key in deleted}, **{error.key: error.outcome for error in errors}},
    )
    logger.info("Bulk delete done", extra={"bucket_id": bucket.id, "requested_keys": len(request.object_keys),
                                           "paths": len(request.path), "deleted": result.deleted_object_count,
                                           "failed": len(result.errors), "handed_off": len(left) if task else 0})
    metrics.add_metric(name="BulkDeletedObjects", unit=MetricUnit.Count, value=result.deleted_object_count)
    receipts.write_audit("bulk_delete", principal.subject, bucket, [
        *(receipts.audit_line(key, None, result.outcomes[key]) for key in result.deleted_objects),
        *(receipts.audit_line(error.key, None, error.outcome, code=error.error_code, message=error.error_message)
          for error in result.errors)], task_id=task.id if task else None)
    return result


def _whole_request_as_task(principal: Principal, bucket: Bucket, request: BulkDeleteRequest, plan: DeletionPlan,
                           sync_limit: int) -> BulkDeleteResult:
    """Nothing was deleted: the whole request becomes a task."""
    enforce_rate_limit(LimitedOperation.BULK_DELETE_TASK, principal)
    try:
        task = start_bulk_task(principal.organization, bucket, request, principal.subject)
    except RequestTooLarge as refusal:
        if plan.over_limit:
            raise
        # The request may well be within the limit: only its listing was slow. Trying again may work.
        raise ServiceUnavailable("S3 did not list the paths in time. Please try again.",
                                 retry_after=RETRY_AFTER_SECONDS) from refusal
    logger.info("Bulk delete became a task", extra={
        "bucket_id": bucket.id, "task_id": task.id, "limit": sync_limit,
        "reason": "over the synchronous limit" if plan.over_limit else "listing out of time"})
    return BulkDeleteResult(deleted_objects=[], errors=[], task=task)


# --- S3 DeleteObject ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _CheckedDeletion:
    """DeleteObject's checks passed: what the DELETE would be sent with (or that it need not be sent at all)."""

    store: S3ObjectVersions
    bucket: Bucket
    pinned_etag: str | None
    removes_marker: bool
    # The request names a version the key does not have: S3 answers 204 and deletes nothing.
    absent_version: bool


def _check_deletion(principal: Principal, request: DeleteObjectRequest, tenancy: TenancyRepository | None,
                    s3_client: Any | None, deadline: Deadline | None) -> _CheckedDeletion:
    """Every check DeleteObject makes before its DELETE, in S3's order; a dry run stops here."""
    organization = principal.organization
    bucket = (tenancy or TenancyRepository()).find_bucket(organization.id, request.bucket)
    if request.expected_bucket_owner is not None and request.expected_bucket_owner != organization.account_id:
        raise AccessDenied()
    store = S3ObjectVersions(gateway.open_bucket(bucket.s3_bucket, organization.account_id,
                                                 deadline=deadline or Deadline.unbounded(), client=s3_client), request)

    pinned_etag: str | None = None
    if request.conditions.any:
        # Conditions apply to the current version, also when a versionId is given (AWS: "Conditional delete
        # evaluations only apply to the current version of the object"; moto does the same).
        current = store.head()
        request.conditions.check(request.key, current)
        pinned_etag = f'"{normalize_etag(current.etag or "")}"'

    removes_marker = False
    if request.version_id is not None:
        target = store.find_version(request.version_id)
        if not target.exists:
            # No such version: S3 answers 204 and echoes the id. The DELETE is never sent: moto (and any backend
            # that ignores an unknown id) would delete the current object instead.
            return _CheckedDeletion(store, bucket, pinned_etag, removes_marker=False, absent_version=True)
        if target.is_delete_marker:
            removes_marker = True
        else:
            ensure_not_locked(target, bypass_governance=request.bypass_governance_retention)
    return _CheckedDeletion(store, bucket, pinned_etag, removes_marker, absent_version=False)


@tracer.capture_method
def delete_object(principal: Principal, request: DeleteObjectRequest, *, tenancy: TenancyRepository | None = None,
                  s3_client: Any | None = None, deadline: Deadline | None = None) -> DeleteObjectResult:
    """Delete ``request.key`` (or one version of it) from a bucket of the caller's organization, as S3 would, within
    ``deadline`` (past it: ``RateLimited`` if S3 was throttling, else ``ServiceUnavailable``)."""
    checked = _check_deletion(principal, request, tenancy, s3_client, deadline)
    if checked.absent_version:
        return _result(request, {"VersionId": request.version_id})
    response = checked.store.delete(if_match=checked.pinned_etag)
    result = _result(request, response, removed_marker=checked.removes_marker)
    receipts.audit_object_deletion(principal.subject, checked.bucket, request, result)
    logger.info("Object deleted", extra={"bucket_id": checked.bucket.id, "by_version": request.version_id is not None,
                                         "delete_marker": result.delete_marker,
                                         "conditional": request.conditions.any})
    return result


@dataclass(frozen=True)
class DeleteObjectPreview:
    """A dry-run DeleteObject: the outcome, and what S3 would answer (its 204 headers, or its refusal)."""

    outcome: Outcome
    result: DeleteObjectResult | None = None
    refusal: EraserError | None = None


@tracer.capture_method
def preview_delete_object(principal: Principal, request: DeleteObjectRequest, *,
                          tenancy: TenancyRepository | None = None, s3_client: Any | None = None,
                          deadline: Deadline | None = None) -> DeleteObjectPreview:
    """What ``delete_object`` would do now (``x-eraser-dry-run: true``): the same checks, no DELETE. A refusal
    the key itself causes (a condition, Object Lock) is the preview's answer; any other is raised as it would be."""
    try:
        checked = _check_deletion(principal, request, tenancy, s3_client, deadline)
    except PreconditionFailed as refusal:
        return DeleteObjectPreview(Outcome.PRECONDITION_FAILED, refusal=refusal)
    except RetentionProtected as refusal:
        return DeleteObjectPreview(Outcome.BLOCKED_BY_RETENTION, refusal=refusal)
    if checked.absent_version:
        return DeleteObjectPreview(Outcome.ALREADY_ABSENT, _result(request, {"VersionId": request.version_id}))
    if request.version_id is not None:
        return DeleteObjectPreview(Outcome.DELETED, _result(request, {"VersionId": request.version_id},
                                                             removed_marker=checked.removes_marker))
    prediction = EntryPlanner(checked.store.bucket).predict(request.key, None)
    marker = prediction.outcome == Outcome.DELETE_MARKER_CREATED
    return DeleteObjectPreview(prediction.outcome, _result(request, {"DeleteMarker": True} if marker else {}))


def _result(request: DeleteObjectRequest, response: Mapping[str, Any], *,
            removed_marker: bool = False) -> DeleteObjectResult:
    return DeleteObjectResult(
        delete_marker=bool(response.get("DeleteMarker")) or removed_marker,
        # S3 echoes the version a versionId DELETE removed; moto leaves it out on a Suspended bucket.
        version_id=response.get("VersionId") or request.version_id,
        request_charged=request.requester_pays or response.get("RequestCharged") == REQUESTER,
    )


# --- S3 DeleteObjects -----------------------------------------------------------------------------------------------
def _delete_objects_target(principal: Principal, request: DeleteObjectsRequest, tenancy: TenancyRepository | None
                           ) -> tuple[Bucket, list[DeleteObjectsEntry]]:
    """The bucket of the caller's organization (``BucketNotFound`` otherwise, ``AccessDenied`` when
    ``x-amz-expected-bucket-owner`` is not its account) and the distinct entries, before anything is deleted."""
    organization = principal.organization
    bucket = (tenancy or TenancyRepository()).find_bucket(organization.id, request.bucket)
    if request.expected_bucket_owner is not None and request.expected_bucket_owner != organization.account_id:
        raise AccessDenied()
    # S3 answers each object once however often it is named.
    return bucket, list({(entry.key, entry.version_id): entry for entry in request.entries}.values())


def _delete_result(request: DeleteObjectsRequest, unique: list[DeleteObjectsEntry], judged: JudgedEntries,
                   answer_of: Callable[[DeleteObjectsEntry, ObjectTarget], EntryDeleted | EntryFailed]
                   ) -> DeleteObjectsResult:
    """One answer per distinct entry, in the request's order: the judged answer, else ``answer_of``'s."""
    result = DeleteObjectsResult(quiet=request.quiet)
    for entry in unique:
        target = ObjectTarget(entry.key, entry.version_id)
        answer = judged.answered.get(target) or answer_of(entry, target)
        if isinstance(answer, EntryDeleted):
            result.deleted.append(answer)
        else:
            result.errors.append(answer)
    return result


@tracer.capture_method
def delete_objects(principal: Principal, request: DeleteObjectsRequest, *, tenancy: TenancyRepository | None = None,
                   s3_client: Any | None = None, check_client: Any | None = None, deadline: Deadline | None = None,
                   retry: RetryPolicy | None = None) -> DeleteObjectsResult:
    """Delete the request's entries from a bucket of the caller's organization, each judged before anything is
    deleted."""
    bucket, unique = _delete_objects_target(principal, request, tenancy)
    owner = principal.organization.account_id
    time_left = deadline or Deadline.unbounded()
    judged = judge_entries(gateway.open_bucket(bucket.s3_bucket, owner, deadline=time_left, client=check_client),
                           request, unique)
    store = S3ObjectStore(gateway.open_bucket(bucket.s3_bucket, owner, deadline=time_left, client=s3_client),
                          bucket.name)
    outcome = delete_versions(store, judged.sendable, retry, time_left)
    # Entries the invocation's time did not reach were not deleted (or not knowingly: an answer that never came).
    last_code = outcome.out_of_time.last_code if outcome.out_of_time is not None else None
    unreached_code = last_code or OUT_OF_TIME_CODE

    def answer_of(entry: DeleteObjectsEntry, target: ObjectTarget) -> EntryDeleted | EntryFailed:
        if target in outcome.deleted:
            return deleted_entry(target, outcome.details.get(target), target in judged.removes_marker)
        if target in outcome.failed:
            failure = outcome.failed[target]
            return EntryFailed(target.key, target.version_id, failure.code, failure.message, failure.outcome)
        return EntryFailed(target.key, target.version_id, unreached_code,
                           "Eraser ran out of time before S3 confirmed deleting this object", of_error(unreached_code))

    result = _delete_result(request, unique, judged, answer_of)
    logger.info("DeleteObjects done", extra={"bucket_id": bucket.id, "entries": len(unique),
                                             "deleted": len(result.deleted), "failed": len(result.errors)})
    receipts.write_audit("delete_objects", principal.subject, bucket, [
        *(receipts.audit_line(entry.key, entry.version_id, entry.outcome) for entry in result.deleted),
        *(receipts.audit_line(error.key, error.version_id, error.outcome, code=error.code, message=error.message)
          for error in result.errors)])
    return result


@tracer.capture_method
def preview_delete_objects(principal: Principal, request: DeleteObjectsRequest, *,
                           tenancy: TenancyRepository | None = None, check_client: Any | None = None,
                           deadline: Deadline | None = None) -> DeleteObjectsResult:
    """The ``DeleteResult`` ``delete_objects`` would answer now (``x-eraser-dry-run: true``): every entry judged as
    it would be, the ones it would send predicted (``storage.plan``), no DeleteObjects call."""
    bucket, unique = _delete_objects_target(principal, request, tenancy)
    s3 = gateway.open_bucket(bucket.s3_bucket, principal.organization.account_id,
                             deadline=deadline or Deadline.unbounded(), client=check_client)
    judged = judge_entries(s3, request, unique)
    planner = EntryPlanner(s3, bypass_governance=request.bypass_governance_retention)

    def answer_of(entry: DeleteObjectsEntry, target: ObjectTarget) -> EntryDeleted | EntryFailed:
        if entry.version_id is not None:
            # Judged: the key has this version and nothing protects it.
            return deleted_entry(target, None, target in judged.removes_marker)
        try:
            outcome = planner.predict(entry.key, None).outcome
        except OutOfTime as error:
            code = error.last_code or OUT_OF_TIME_CODE
            return EntryFailed(entry.key, None, code, "Eraser ran out of time before S3 answered", of_error(code))
        return EntryDeleted(entry.key, None, delete_marker=outcome == Outcome.DELETE_MARKER_CREATED, outcome=outcome)

    return _delete_result(request, unique, judged, answer_of)


# --- S3's read-only routes -------------------------------------------------------------------------------------------
def preview_bulk_delete(principal: Principal, bucket_identifier: str, request: BulkDeleteRequest, *,
                        tenancy: TenancyRepository | None = None, deadline: Deadline | None = None) -> DryRun:
    """What ``bulk_delete`` would do now (``dry_run=true``): the keys named and the current objects under the paths,
    listed by the engine's own listing code, each predicted; a request too large to plan within its time becomes a
    dry-run task (rate-limited as a bulk-delete task is)."""
    bucket = (tenancy or TenancyRepository()).find_bucket(principal.organization.id, bucket_identifier)
    selection = Selection.keys_and_prefixes(keys=list(dict.fromkeys(request.object_keys)), prefixes=request.prefixes)
    return preview(principal.organization, TaskKind.BULK_DELETE, [bucket], selection, principal.subject,
                   deadline=(deadline or Deadline.unbounded()).less(HANDOFF_RESERVE_SECONDS),
                   before_task=lambda: enforce_rate_limit(LimitedOperation.BULK_DELETE_TASK, principal))


def _bucket_of(principal: Principal, bucket_name: str, tenancy: TenancyRepository | None) -> Bucket:
    return (tenancy or TenancyRepository()).find_bucket(principal.organization.id, bucket_name)


@tracer.capture_method
def list_objects(principal: Principal, bucket_name: str, query: ListObjectsQuery, *,
                 tenancy: TenancyRepository | None = None, client: Any | None = None) -> dict[str, Any]:
    return browse.list_objects(_bucket_of(principal, bucket_name, tenancy), principal.organization.account_id,
                               query, client=client)


@tracer.capture_method
def list_versions(principal: Principal, bucket_name: str, query: ListVersionsQuery, *,
                  tenancy: TenancyRepository | None = None, client: Any | None = None) -> dict[str, Any]:
    return browse.list_versions(_bucket_of(principal, bucket_name, tenancy), principal.organization.account_id,
                                query, client=client)


@tracer.capture_method
def head_bucket(principal: Principal, bucket_name: str, *, tenancy: TenancyRepository | None = None,
                client: Any | None = None) -> None:
    browse.head_bucket(_bucket_of(principal, bucket_name, tenancy), principal.organization.account_id, client=client)


@tracer.capture_method
def head_object(principal: Principal, bucket_name: str, key: str, version_id: str | None, *,
                tenancy: TenancyRepository | None = None, client: Any | None = None) -> HeadedObject:
    # A malformed version id is S3's InvalidArgument before the bucket is even looked at.
    if version_id is not None and not well_formed_version_id(version_id):
        raise InvalidArgument(INVALID_VERSION_ID)
    return browse.head_object(_bucket_of(principal, bucket_name, tenancy), principal.organization.account_id, key,
                              version_id, client=client)
