"""Bulk delete: object keys and folder paths of one bucket, deleted synchronously with per-key errors.

The steps, each its own function:
1. ``plan_deletion`` collects the keys (the listed ones once, duplicates once) and lists each path, stopping as soon
   as the total passes the synchronous limit;
2. ``admit_synchronously`` is the one place that decides whether the request may run now; one over the limit
   becomes a ``bulk_delete`` task of the task engine (``start_bulk_task``) and deletes nothing synchronously;
3. ``delete_keys`` deletes with DeleteObjects in batches of at most 1000 keys, retrying the keys S3 reports as
   throttled or failed internally, and reports every other per-key error with S3's own code.

Every S3 call is attempted once by botocore (``aws.s3_single_attempt``) and retried by Eraser only while the
invocation has time left (``retries.Deadline``): botocore's own retries under a throttling S3 outlasted the function
and API Gateway answered 502. Listing that does not finish in time makes the request a task; deleting that does not
finish in time hands the keys left to a task (``hand_off``), and the answer reports what was deleted before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Protocol, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, model_validator

from eraser import aws
from eraser.config import settings
from eraser.errors import BucketNotFound, RateLimited, RequestTooLarge, ServiceUnavailable, TaskQueueingError
from eraser.observability import logger, metrics
from eraser.storage import retries
from eraser.storage.keys import DELETE_OBJECTS_MAX_KEYS, ObjectKey, fits_in_xml, folder_prefix
from eraser.storage.retries import (
    CALL_BUDGET_SECONDS,
    RETRY_AFTER_SECONDS,
    Deadline,
    OutOfTime,
    call_before,
    full_jitter,
    is_retryable,
)
from eraser.tasks import Selection, Task, TaskKind, create_task
from eraser.tenancy import Bucket, Organization, TenancyRepository

MAX_OBJECT_KEYS = 1000
# Every path costs at least one ListObjectsV2 call before anything is deleted; 100 keeps a request well inside
# API Gateway's 29 seconds.
MAX_PATHS = 100
LIST_PAGE_SIZE = 1000
# The code reported for a key S3 neither deleted nor failed (possible only if S3 broke its own contract).
UNCONFIRMED = "InternalError"
PATH_NOT_FOUND_CODE = "404"
PATH_NOT_FOUND_MESSAGE = "Objects not exist in path"
# The code of a key left undeleted when time ran out and no task could take it, if S3 gave no code of its own.
OUT_OF_TIME_CODE = "ServiceUnavailable"
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


class BulkDeleteResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    deleted_objects: list[str]
    errors: list[DeletionError]
    # Set when the request was over the synchronous limit, or its listing or deleting ran out of time: this task
    # deletes what ``deleted_objects`` and ``errors`` do not account for.
    task: Task | None = None

    @property
    def deleted_object_count(self) -> int:
        return len(self.deleted_objects)


# --- S3 ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyFailure:
    code: str
    message: str

    @property
    def retryable(self) -> bool:
        return is_retryable(self.code)


@dataclass(frozen=True)
class ObjectTarget:
    """One entry of a DeleteObjects call: a key, or one version of it (``version_id``)."""

    key: str
    version_id: str | None = None


@dataclass(frozen=True)
class DeletedDetail:
    """What S3 reported for one deleted entry: a delete marker created or removed, and the version concerned."""

    delete_marker: bool = False
    delete_marker_version_id: str | None = None
    version_id: str | None = None


Target = TypeVar("Target", bound=Hashable)


@dataclass
class AttemptOutcome(Generic[Target]):
    deleted: set[Target] = field(default_factory=set)
    failed: dict[Target, KeyFailure] = field(default_factory=dict)
    # S3's own report of each deleted entry, where it gave one (DeleteObjects answers; DeleteObject's headers).
    details: dict[Target, DeletedDetail] = field(default_factory=dict)
    # Set when time ran out: the keys neither deleted nor failed were not (or not knowingly) deleted. ``last_code`` is
    # S3's last retryable error (SlowDown...), if any.
    out_of_time: OutOfTime | None = None

    def left_of(self, keys: Sequence[Target]) -> list[Target]:
        return [key for key in keys if key not in self.deleted and key not in self.failed]


class ObjectStore(Protocol):
    def list_keys(self, prefix: str) -> Iterator[str]: ...

    def delete_batch(self, keys: Sequence[str]) -> AttemptOutcome[str]: ...

    def delete_singly(self, keys: Sequence[str]) -> AttemptOutcome[str]: ...


class S3ObjectStore:
    """One S3 bucket of an organization. Every call names the organization's AWS account as ``ExpectedBucketOwner``,
    so a bucket registered by mistake in another account is refused by S3 (403) instead of being deleted from.
    ``bucket_label`` is the name the caller knows; the S3 name never appears in an error.

    Each call is retried while ``deadline`` allows (the client itself attempts once), then raises ``OutOfTime``;
    ``delete_singly`` reports it in its outcome instead, with the keys it deleted before."""

    def __init__(self, s3_bucket: str, bucket_label: str, owner_account_id: str, client: Any | None = None,
                 deadline: Deadline | None = None) -> None:
        self._bucket = s3_bucket
        self._label = bucket_label
        self._owner = owner_account_id
        self._s3 = client or aws.s3_single_attempt()
        self._deadline = deadline or Deadline.unbounded()

    def _bucket_arguments(self) -> dict[str, str]:
        return {"Bucket": self._bucket, "ExpectedBucketOwner": self._owner}

    def _call(self, operation: str, **arguments: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = call_before(self._deadline,
                                                 lambda: getattr(self._s3, operation)(**arguments))
        except ClientError as error:
            self._raise_if_bucket_missing(error)
            raise
        return answer

    def list_keys(self, prefix: str) -> Iterator[str]:
        # Current objects only: on a versioned bucket a key whose latest version is a delete marker is already gone.
        # Paged by hand, not with botocore's paginator, so that each page is retried within the deadline.
        arguments: dict[str, Any] = {**self._bucket_arguments(), "Prefix": prefix, "MaxKeys": LIST_PAGE_SIZE}
        while True:
            page = self._call("list_objects_v2", **arguments)
            for item in page.get("Contents", []):
                yield item["Key"]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            arguments["ContinuationToken"] = token

    def _raise_if_bucket_missing(self, error: ClientError) -> None:
        if _code_of(error) == "NoSuchBucket":
            raise BucketNotFound(self._label) from error

    def delete_batch(self, keys: Sequence[str]) -> AttemptOutcome[str]:
        return _by_key(self.delete_versions_batch([ObjectTarget(key) for key in keys]))

    def delete_singly(self, keys: Sequence[str]) -> AttemptOutcome[str]:
        return _by_key(self.delete_versions_singly([ObjectTarget(key) for key in keys]))

    def delete_versions_batch(self, targets: Sequence[ObjectTarget]) -> AttemptOutcome[ObjectTarget]:
        """One DeleteObjects call. A version id must only be sent once it is known to be the key's (moto deletes
        the current object for an id it does not know on a bucket that is not versioning-Enabled)."""
        if len(targets) > DELETE_OBJECTS_MAX_KEYS:
            raise ValueError(f"DeleteObjects takes at most {DELETE_OBJECTS_MAX_KEYS} keys, not {len(targets)}")
        try:
            # Quiet=False: every key comes back as Deleted or Error, so a key counts as deleted only when S3 says so.
            # S3 reports a key that did not exist as Deleted (deleting is idempotent); so does Eraser.
            answer = self._call("delete_objects", **self._bucket_arguments(), Delete={
                "Objects": [_object_entry(target) for target in targets], "Quiet": False})
        except ClientError as error:
            # The whole call failed with an error retrying does not change: every key of the batch carries it, so
            # the caller still learns what the earlier batches deleted.
            failure = KeyFailure(_code_of(error), _message_of(error))
            return AttemptOutcome(failed=dict.fromkeys(targets, failure))
        requested = set(targets)
        outcome: AttemptOutcome[ObjectTarget] = AttemptOutcome()
        for item in answer.get("Deleted", []):
            target = _answered_target(item, requested)
            if target is not None:
                outcome.deleted.add(target)
                outcome.details[target] = DeletedDetail(
                    delete_marker=bool(item.get("DeleteMarker")),
                    delete_marker_version_id=item.get("DeleteMarkerVersionId"),
                    version_id=item.get("VersionId"))
        for item in answer.get("Errors", []):
            target = _answered_target(item, requested)
            if target is not None and target not in outcome.deleted:
                outcome.failed[target] = KeyFailure(item.get("Code") or UNCONFIRMED, item.get("Message") or "")
        for target in targets:
            if target not in outcome.deleted and target not in outcome.failed:
                outcome.failed[target] = KeyFailure(UNCONFIRMED, "S3 did not confirm the deletion of this key")
        return outcome

    def delete_versions_singly(self, targets: Sequence[ObjectTarget]) -> AttemptOutcome[ObjectTarget]:
        outcome: AttemptOutcome[ObjectTarget] = AttemptOutcome()
        for target in targets:
            try:
                answer = self._call("delete_object", **self._bucket_arguments(), **_object_entry(target))
            except OutOfTime as error:
                outcome.out_of_time = error
                break
            except ClientError as error:
                outcome.failed[target] = KeyFailure(_code_of(error), _message_of(error))
            else:
                outcome.deleted.add(target)
                marker = bool(answer.get("DeleteMarker"))
                outcome.details[target] = DeletedDetail(
                    delete_marker=marker,
                    delete_marker_version_id=answer.get("VersionId") if marker and target.version_id is None
                    else None,
                    version_id=target.version_id)
        return outcome


def _object_entry(target: ObjectTarget) -> dict[str, str]:
    if target.version_id is None:
        return {"Key": target.key}
    return {"Key": target.key, "VersionId": target.version_id}


def _answered_target(item: dict[str, Any], requested: set[ObjectTarget]) -> ObjectTarget | None:
    """The requested entry an answer's Deleted or Error item is about. S3 echoes ``VersionId`` for a versioned
    entry; for a key-only entry on a versioned bucket it may report the marker it created instead."""
    exact = ObjectTarget(item.get("Key", ""), item.get("VersionId"))
    if exact in requested:
        return exact
    key_only = ObjectTarget(item.get("Key", ""))
    return key_only if key_only in requested else None


def _by_key(outcome: AttemptOutcome[ObjectTarget]) -> AttemptOutcome[str]:
    return AttemptOutcome(deleted={target.key for target in outcome.deleted},
                          failed={target.key: failure for target, failure in outcome.failed.items()},
                          details={target.key: detail for target, detail in outcome.details.items()},
                          out_of_time=outcome.out_of_time)


def _code_of(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code") or UNCONFIRMED)


def _message_of(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or "")


# --- retries ---------------------------------------------------------------------------------------------------------
def _wait(seconds: float) -> None:
    retries.wait(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of keys S3 failed one by one inside a 200 answer (botocore only retries whole calls). Exponential
    backoff with full jitter, kept short, and never past the deadline: another attempt starts only if it fits."""

    attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 1.0
    sleep: Callable[[float], None] = _wait

    def pause_before(self, retry_number: int, deadline: Deadline) -> bool:
        """Wait before retry ``retry_number`` (0-based); False, without waiting, if no attempt fits after it."""
        seconds = full_jitter(retry_number, self.base_delay, self.max_delay)
        if not deadline.within(seconds + CALL_BUDGET_SECONDS):
            return False
        self.sleep(seconds)
        return True


PER_KEY_RETRY = RetryPolicy()


def _attempt_with_retries(attempt: Callable[[Sequence[Target]], AttemptOutcome[Target]], keys: Sequence[Target],
                          retry: RetryPolicy, deadline: Deadline) -> AttemptOutcome[Target]:
    total: AttemptOutcome[Target] = AttemptOutcome()
    pending = list(keys)
    last_code: str | None = None
    for attempt_number in range(1, retry.attempts + 1):
        try:
            outcome = attempt(pending)
        except OutOfTime as error:
            total.out_of_time = OutOfTime(error.last_code or last_code)
            break
        total.deleted |= outcome.deleted
        total.details.update(outcome.details)
        retryable = [key for key in pending if key in outcome.failed and outcome.failed[key].retryable]
        for key, failure in outcome.failed.items():
            if not failure.retryable or attempt_number == retry.attempts:
                total.failed[key] = failure
        if outcome.out_of_time is not None:
            total.out_of_time = OutOfTime(outcome.out_of_time.last_code or last_code)
            break
        if not retryable or attempt_number == retry.attempts:
            break
        last_code = outcome.failed[retryable[-1]].code
        if not retry.pause_before(attempt_number - 1, deadline):
            total.out_of_time = OutOfTime(last_code)
            break
        pending = retryable
    return total


def _chunks(keys: Sequence[Target], size: int) -> Iterator[Sequence[Target]]:
    for start in range(0, len(keys), size):
        yield keys[start:start + size]


def _delete_in_batches(batch: Callable[[Sequence[Target]], AttemptOutcome[Target]],
                       singly: Callable[[Sequence[Target]], AttemptOutcome[Target]], targets: Sequence[Target],
                       key_of: Callable[[Target], str], retry: RetryPolicy | None,
                       deadline: Deadline | None) -> AttemptOutcome[Target]:
    policy = retry or PER_KEY_RETRY
    time_left = deadline or Deadline.unbounded()
    total: AttemptOutcome[Target] = AttemptOutcome()
    batchable = [target for target in targets if fits_in_xml(key_of(target))]
    unbatchable = [target for target in targets if not fits_in_xml(key_of(target))]
    parts = [(batch, chunk) for chunk in _chunks(batchable, DELETE_OBJECTS_MAX_KEYS)]
    if unbatchable:
        parts.append((singly, unbatchable))
    for attempt, part in parts:
        outcome = _attempt_with_retries(attempt, part, policy, time_left)
        total.deleted |= outcome.deleted
        total.failed.update(outcome.failed)
        total.details.update(outcome.details)
        if outcome.out_of_time is not None:
            total.out_of_time = outcome.out_of_time
            break
    return total


def delete_keys(store: ObjectStore, keys: Sequence[str], retry: RetryPolicy | None = None,
                deadline: Deadline | None = None) -> AttemptOutcome[str]:
    """Delete ``keys`` (already unique): DeleteObjects in batches of at most 1000, DeleteObject for keys XML cannot
    carry. Once ``deadline`` stops the work, the outcome's ``out_of_time`` is set and the keys it neither deleted
    nor failed were left as they were (or deleted by an attempt whose answer never came)."""
    return _delete_in_batches(store.delete_batch, store.delete_singly, keys, lambda key: key, retry, deadline)


def delete_versions(store: S3ObjectStore, targets: Sequence[ObjectTarget], retry: RetryPolicy | None = None,
                    deadline: Deadline | None = None) -> AttemptOutcome[ObjectTarget]:
    """Delete ``targets`` (already unique; every version id checked to be its key's) the way ``delete_keys`` does."""
    return _delete_in_batches(store.delete_versions_batch, store.delete_versions_singly, targets,
                              lambda target: target.key, retry, deadline)


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


def hand_off(organization: Organization, bucket: Bucket, keys: list[str], requested_by: str,
             before_task: Callable[[], None] | None) -> Task:
    """A task deleting ``keys`` (without version id, as here): what a synchronous request's time did not cover.
    The keys are known, so the task deletes exactly them, not whatever the request's paths hold by then. Raises
    ``RateLimited`` (``before_task``), ``RequestTooLarge`` or ``TaskQueueingError`` when no task can take them."""
    if before_task is not None:
        before_task()
    return create_task(organization, TaskKind.BULK_DELETE, [bucket], requested_by,
                       Selection.keys_and_prefixes(keys=keys))


def _retry_after(refusal: Exception) -> int:
    return max(RETRY_AFTER_SECONDS, refusal.retry_after if isinstance(refusal, RateLimited) else 0)


# --- the operation -------------------------------------------------------------------------------------------------
def bulk_delete(organization: Organization, bucket_identifier: str, request: BulkDeleteRequest, *,
                tenancy: TenancyRepository | None = None, store: ObjectStore | None = None,
                limit: int | None = None, retry: RetryPolicy | None = None,
                requested_by: str = "api",
                before_task: Callable[[], None] | None = None,
                deadline: Deadline | None = None) -> BulkDeleteResult:
    """Delete the request's keys and folders from ``organization``'s bucket ``bucket_identifier`` (name or id),
    within ``deadline`` (the invocation's time left).

    Raises ``BucketNotFound`` (also for another organization's bucket) before anything is deleted. Per-key failures
    and paths that match nothing are in the result's ``errors``. A request over the synchronous limit, or whose
    listing does not finish in time, deletes nothing here and answers with the task that deletes it
    (``result.task``); ``before_task`` runs first and may refuse it by raising (the task-creation rate limit, which
    only applies when a task is created). When deleting runs out of time, the keys left go to a task too and the
    result lists what was deleted before; if no task can take them, they are per-key errors, or, when nothing was
    deleted at all, ``ServiceUnavailable`` (503 with Retry-After) is raised.
    """
    time_left = deadline or Deadline.unbounded()
    # S3 work stops in time to record a task of what is left, and listing early enough to delete what it found.
    work_deadline = time_left.less(HANDOFF_RESERVE_SECONDS)
    bucket = (tenancy or TenancyRepository()).find_bucket(organization.id, bucket_identifier)
    objects = store or S3ObjectStore(bucket.s3_bucket, bucket.name, organization.account_id, deadline=work_deadline)
    sync_limit = limit if limit is not None else settings().sync_delete_limit
    plan = plan_deletion(objects, request, sync_limit, work_deadline.less(DELETION_RESERVE_SECONDS))
    if not admit_synchronously(plan):
        return _whole_request_as_task(organization, bucket, request, requested_by, before_task, plan, sync_limit)
    outcome = delete_keys(objects, plan.keys, retry, work_deadline)
    left = outcome.left_of(plan.keys) if outcome.out_of_time is not None else []
    deleted = [key for key in plan.keys if key in outcome.deleted]
    task: Task | None = None
    unhandled: dict[str, KeyFailure] = {}
    if left:
        try:
            task = hand_off(organization, bucket, left, requested_by, before_task)
        except (RateLimited, RequestTooLarge, TaskQueueingError) as refusal:
            logger.warning("Bulk delete ran out of time and no task could take the keys left",
                           extra={"bucket_id": bucket.id, "left": len(left), "deleted": len(deleted),
                                  "refusal": type(refusal).__name__})
            if not deleted:
                raise ServiceUnavailable("S3 did not complete the deletion in time. Please try again.",
                                         retry_after=_retry_after(refusal)) from refusal
            assert outcome.out_of_time is not None
            code = outcome.out_of_time.last_code or OUT_OF_TIME_CODE
            unhandled = dict.fromkeys(left, KeyFailure(code, "Not deleted: the request ran out of time while S3 "
                                                             "was slow or throttling. Please delete it again."))
        else:
            logger.info("Bulk delete ran out of time; a task deletes the keys left",
                        extra={"bucket_id": bucket.id, "task_id": task.id, "left": len(left),
                               "deleted": len(deleted)})
    failures = {**outcome.failed, **unhandled}
    result = BulkDeleteResult(
        deleted_objects=deleted,
        errors=[DeletionError(key=key, error_code=failures[key].code, error_message=failures[key].message)
                for key in plan.keys if key in failures and key not in outcome.deleted]
        + [DeletionError(key=prefix, error_code=PATH_NOT_FOUND_CODE, error_message=PATH_NOT_FOUND_MESSAGE)
           for prefix in plan.empty_prefixes],
        task=task,
    )
    logger.info("Bulk delete done", extra={"bucket_id": bucket.id, "requested_keys": len(request.object_keys),
                                           "paths": len(request.path), "deleted": result.deleted_object_count,
                                           "failed": len(result.errors), "handed_off": len(left) if task else 0})
    metrics.add_metric(name="BulkDeletedObjects", unit=MetricUnit.Count, value=result.deleted_object_count)
    return result


def _whole_request_as_task(organization: Organization, bucket: Bucket, request: BulkDeleteRequest,
                           requested_by: str, before_task: Callable[[], None] | None, plan: DeletionPlan,
                           sync_limit: int) -> BulkDeleteResult:
    """Nothing was deleted: the whole request becomes a task."""
    if before_task is not None:
        before_task()
    try:
        task = start_bulk_task(organization, bucket, request, requested_by)
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
