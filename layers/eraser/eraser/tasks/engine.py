"""A task's lifecycle: creation, the end of each listing pass, finalization, cancellation and failure.

Completion is detected without a scan: the lister marks a pass's listing done together with the number of chunks it
enqueued (``chunks_total``); each batch-delete adds one to ``chunks_done`` in the transaction that counts it. Whoever
observes both (the lister or the last worker) claims the end of the pass with a conditional update, so exactly one
moves the task on: another verification pass (a sweep listing from the start), or finalization.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from eraser.clock import new_id, utc_now
from eraser.config import engine_settings
from eraser.errors import BucketNotFound, Conflict, RequestTooLarge, TaskNotFound
from eraser.observability import logger, metrics
from eraser.storage import gateway
from eraser.storage.gateway import BucketGateway, S3Error
from eraser.tasks import receipts
from eraser.tasks.model import (
    KeyFailure,
    ListingMessage,
    Phase,
    Selection,
    SelectionMode,
    Target,
    Task,
    TaskKind,
    TaskStatus,
)
from eraser.tasks.queues import send_listing_step
from eraser.tasks.repository import LockHeld, TaskRepository
from eraser.tenancy import Bucket, Organization, TenancyRepository

RemainingMs = Callable[[], int]
_LOCK_ATTEMPTS = 3
# DynamoDB items are at most 400 KB; explicit keys (bulk delete) are the only part of a task that can grow.
_MAX_TASK_BYTES = 300_000
# An exclusive request for a bucket whose lock is held gets the running task, unless it does all that task would:
# then the running task is cancelled and the new one takes the lock.
_SUPERSEDES: dict[TaskKind, frozenset[TaskKind]] = {
    TaskKind.DELETE_BUCKET: frozenset({TaskKind.PURGE_BUCKET, TaskKind.TRASH_PURGE, TaskKind.BULK_DELETE}),
    TaskKind.PURGE_BUCKET: frozenset({TaskKind.TRASH_PURGE, TaskKind.BULK_DELETE}),
}


# --- the API other features use (see docs/tasks.md) -------------------------------------------------------------------
def create_task(organization: Organization, kind: TaskKind, targets: list[Bucket], requested_by: str,
                selection: Selection | None = None, *, exclusive: bool = False,
                object_count: int | None = None, previews: TaskKind | None = None) -> Task:
    """Record a task and enqueue its first listing step. With ``exclusive``, a bucket that already has a running
    exclusive task answers with that task instead of starting a second one, unless the new task supersedes it
    (a bucket deletion supersedes a purge, a purge supersedes a trash purge): that one is cancelled. A dry run
    (``TaskKind.DRY_RUN``, ``previews`` the kind it previews) deletes nothing and is never exclusive."""
    if (kind == TaskKind.DRY_RUN) != (previews is not None) or (exclusive and kind == TaskKind.DRY_RUN):
        raise ValueError("a dry run, and only a dry run, names the kind it previews; it is never exclusive")
    if not targets:
        raise ValueError("a task needs at least one target")
    task = draft_task(organization, kind, targets, requested_by, selection, object_count=object_count,
                      previews=previews)
    if len(task.model_dump_json()) > _MAX_TASK_BYTES:
        raise RequestTooLarge("The selection is too large to be recorded as one task; split the request")
    repository = TaskRepository()
    for _ in range(_LOCK_ATTEMPTS):
        try:
            repository.create(task, [target.bucket_id for target in task.targets] if exclusive else [])
            break
        except LockHeld as held:
            running = _running_holder(repository, held)
            if running is None:
                continue
            if running.kind not in _SUPERSEDES.get(kind, ()):
                return running
            # The new task does all the running one would (deleting a bucket purges it): it takes over.
            repository.finish(running, TaskStatus.CANCELLED,
                              reason=f"superseded by task {task.id} ({kind.value}) on the same bucket")
    else:
        raise Conflict("Another task holds this bucket")
    try:
        send_listing_step(ListingMessage(task_id=task.id))
    except Exception as error:
        repository.finish(task, TaskStatus.FAILED, reason=f"the first listing step could not be queued: {error}")
        raise
    metrics.add_metric(name="TasksCreated", unit=MetricUnit.Count, value=1)
    logger.info("Task created", extra={"task_id": task.id, "kind": task.kind.value, "targets": len(task.targets)})
    return task


def draft_task(organization: Organization, kind: TaskKind, targets: list[Bucket], requested_by: str,
               selection: Selection | None = None, *, object_count: int | None = None,
               previews: TaskKind | None = None) -> Task:
    """A task as ``create_task`` would record it, not recorded: what a dry run within the request lists for."""
    for bucket in targets:
        if bucket.organization_id != organization.id:
            raise BucketNotFound(bucket.name)
    now = utc_now()
    return Task(id=new_id("task"), kind=kind, organization_id=organization.id, account_id=organization.account_id,
                targets=[Target.of(bucket) for bucket in targets], selection=selection or Selection.everything(),
                requested_by=requested_by, trigger=receipts.trigger_now(requested_by), created_at=now,
                heartbeat_at=now, object_count=object_count, previews=previews)


def record_completed_task(organization: Organization, kind: TaskKind, requested_by: str,
                          selection: Selection) -> Task:
    """Record a task that has nothing to do (a request with no target, such as purging the trash of an organization
    without a trash-enabled bucket) as already completed: clients still get a task to poll. Nothing is listed or
    queued, since the lifecycle starts by listing a target."""
    now = utc_now()
    task = Task(id=new_id("task"), kind=kind, organization_id=organization.id, account_id=organization.account_id,
                targets=[], selection=selection, requested_by=requested_by,
                trigger=receipts.trigger_now(requested_by), status=TaskStatus.COMPLETED,
                listing_done=True, created_at=now, started_at=now, finished_at=now)
    TaskRepository().create(task)
    return task


def _running_holder(repository: TaskRepository, held: LockHeld) -> Task | None:
    """The unfinished task holding a lock, or None after removing a lock its finished task left behind."""
    if held.task_id is None:
        return None
    try:
        holder = repository.get(held.task_id)
    except TaskNotFound:
        holder = None
    if holder is not None and not holder.is_finished:
        return holder
    repository.break_stale_lock(held.bucket_id, held.task_id)
    return None


def get_task(task_id: str) -> Task:
    return TaskRepository().get(task_id)


def find_task(organization_id: str, task_id: str) -> Task:
    """A task of this organization; another organization's task is not found."""
    task = TaskRepository().get(task_id)
    if task.organization_id != organization_id:
        raise TaskNotFound(task_id)
    return task


def failures_of(task_id: str, limit: int | None = None) -> list[KeyFailure]:
    return TaskRepository().failures(task_id, limit or engine_settings().failure_sample_size)


def cancel_task(organization_id: str, task_id: str) -> Task:
    """Stop a task at the next batch boundary: workers check the status before every DeleteObjects call. A finished
    task cannot be cancelled (Conflict)."""
    task = find_task(organization_id, task_id)
    repository = TaskRepository()
    if not task.is_finished:
        cancelled = repository.finish(task, TaskStatus.CANCELLED, reason="cancelled on request")
        if cancelled is not None:
            return cancelled
        task = repository.get(task_id)
    raise Conflict(f"Task '{task_id}' has already finished ({task.status.value})", task_id=task_id,
                   status=task.status.value)


def fail_task(task_id: str, reason: str) -> Task | None:
    """End an unfinished task as FAILED with a reason; None when it had already finished."""
    repository = TaskRepository()
    try:
        task = repository.get(task_id)
    except TaskNotFound:
        return None
    if task.is_finished:
        return None
    failed = repository.finish(task, TaskStatus.FAILED, reason=reason)
    if failed is not None:
        logger.warning("Task failed", extra={"task_id": task_id, "reason": reason})
    return failed


# --- the end of a pass ------------------------------------------------------------------------------------------------
def pass_is_finished(task: Task) -> bool:
    return (task.status == TaskStatus.RUNNING and task.phase == Phase.LISTING and task.listing_done
            and task.counts.chunks_done == task.counts.chunks_total)


def _needs_another_pass(task: Task) -> bool:
    if task.is_dry_run:
        # Nothing was deleted, so a second listing would find the same entries and predict them again.
        return False
    if task.selection.mode == SelectionMode.KEYS:
        # Explicit keys are deleted once: S3 reports an absent key as deleted, so a second pass would count it twice.
        return False
    if task.counts.failed:
        # Keys that failed for good (Object Lock, legal hold, access) would only fail again: the task fails instead.
        return False
    if task.pass_listed == 0:
        # This pass found no targeted version left: the bucket is verified.
        return False
    return task.pass_number < engine_settings().max_passes


def advance_if_pass_finished(task: Task) -> None:
    """Start the next verification pass or finalization, if this pass is over and nobody else claimed it."""
    if not pass_is_finished(task):
        return
    next_pass = _needs_another_pass(task)
    claimed = TaskRepository().claim_pass_end(task, next_pass=next_pass)
    if claimed is None:
        return
    send_listing_step(resume_message(claimed))


def resume_message(task: Task) -> ListingMessage:
    """The listing message that continues a task from its checkpoint."""
    action = "finalize" if task.phase == Phase.FINALIZING else "list"
    return ListingMessage(task_id=task.id, action=action, pass_number=task.pass_number, hop=task.listing_hop,
                          cursor=task.cursor)


# --- finalization -----------------------------------------------------------------------------------------------------
def finalize(task: Task, remaining_ms: RemainingMs) -> bool:
    """Abort multipart uploads, verify, delete the bucket for delete_bucket, and end the task truthfully. False when
    the uploads need another invocation (the caller hands the step over)."""
    repository = TaskRepository()
    buckets = {target.s3_bucket: gateway.open_bucket(target.s3_bucket, task.account_id) for target in task.targets}
    if task.is_dry_run:
        _finish_dry_run(task, repository, buckets)
        return True
    tuning = engine_settings()
    # A bucket being deleted that is already gone from S3 (deleted outside Eraser) has nothing left to verify.
    gone = {target.s3_bucket for target in task.targets
            if task.kind == TaskKind.DELETE_BUCKET and not buckets[target.s3_bucket].bucket_exists()}
    if task.selection.mode == SelectionMode.ALL:
        initiated_before = task.snapshot_at if task.kind != TaskKind.DELETE_BUCKET else None
        for target in task.targets:
            if target.s3_bucket in gone:
                continue
            aborted, done = buckets[target.s3_bucket].abort_multipart_uploads(
                initiated_before=initiated_before, keep_going=lambda: remaining_ms() > tuning.listing_step_reserve_ms)
            repository.add_uploads_aborted(task.id, aborted)
            if not done:
                return False
    empty = all(target.s3_bucket in gone or buckets[target.s3_bucket].bucket_is_empty() for target in task.targets)
    verified = task.counts.failed == 0 and (task.pass_listed == 0 or task.selection.mode == SelectionMode.KEYS)
    if task.kind == TaskKind.DELETE_BUCKET:
        _finish_bucket_deletion(task, repository, buckets, empty=empty, verified=verified)
    elif verified:
        repository.finish(task, TaskStatus.COMPLETED, bucket_empty_at_end=empty)
    else:
        repository.finish(task, TaskStatus.FAILED, reason=_unverified_reason(task), bucket_empty_at_end=empty)
    return True


def _finish_dry_run(task: Task, repository: TaskRepository, buckets: dict[str, BucketGateway]) -> None:
    """A dry run counts the uploads the task it previews would abort (set, not added: a repeated finalization
    counts them again, not twice), and is complete: what would be left is in its plan, not a failure."""
    if task.selection.mode == SelectionMode.ALL:
        initiated_before = None if task.acts_as == TaskKind.DELETE_BUCKET else task.snapshot_at
        uploads = sum(bucket.count_multipart_uploads(initiated_before=initiated_before)
                      for bucket in buckets.values() if task.acts_as != TaskKind.DELETE_BUCKET or bucket.bucket_exists())
        repository.set_planned(task.id, "multipart_uploads", uploads)
    if task.selection.mode == SelectionMode.TRASH:
        repository.set_planned(task.id, "newer_than_trash_retention", task.cursor.trash_newer)
    repository.finish(task, TaskStatus.COMPLETED)


def _unverified_reason(task: Task) -> str:
    if task.counts.failed:
        return (f"{task.counts.failed} versions could not be deleted (see failures); "
                "the bucket still holds them")
    return (f"versions kept appearing after {task.pass_number} listing passes: the bucket kept receiving writes "
            "while it was being emptied")


def _finish_bucket_deletion(task: Task, repository: TaskRepository, buckets: dict[str, BucketGateway], *,
                            empty: bool, verified: bool) -> Task | None:
    if not (verified and empty):
        reason = _unverified_reason(task) if not verified else (
            "the bucket received new objects while it was being deleted; it was kept")
        return repository.finish(task, TaskStatus.FAILED, reason=f"{reason}; the bucket was not deleted",
                                 bucket_empty_at_end=empty)
    cancel_other_tasks_of_targets(task)
    tenancy = TenancyRepository()
    for target in task.targets:
        try:
            buckets[target.s3_bucket].delete_bucket()
        except S3Error as error:
            code = error.code
            if code == "BucketNotEmpty":
                return repository.finish(task, TaskStatus.FAILED, bucket_empty_at_end=False, reason=(
                    "the bucket received new objects while it was being deleted; it was kept"))
            # NoSuchBucket: a previous attempt of this step deleted it.
            if code != "NoSuchBucket":
                raise
        try:
            tenancy.delete_bucket_records(tenancy.get_bucket(task.organization_id, target.bucket_id))
        except BucketNotFound:
            pass
    return repository.finish(task, TaskStatus.COMPLETED, bucket_empty_at_end=True, bucket_deleted=True)


def cancel_other_tasks_of_targets(task: Task) -> None:
    """Cancel every other unfinished task working on one of this task's buckets (a bucket being deleted)."""
    repository = TaskRepository()
    bucket_ids = {target.bucket_id for target in task.targets}
    for task_id in list(repository.active_task_ids()):
        if task_id == task.id:
            continue
        try:
            other = repository.get(task_id)
        except TaskNotFound:
            continue
        if not other.is_finished and bucket_ids & {target.bucket_id for target in other.targets}:
            repository.finish(other, TaskStatus.CANCELLED, reason=f"the bucket is being deleted by task {task.id}")
