"""Listing steps: claim the step, list a few pages, enqueue their targeted versions as chunks, checkpoint, hand over.

A step first claims itself on the task (a conditional write with a lease that ends with its invocation): a copy of
the same step delivered meanwhile finds the claim and enqueues nothing, and a copy delivered after the step was
saved finds the hop moved on. It then lists pages from the cursor saved on the task until its invocation nears its
end (``context.get_remaining_time_in_millis``) or it has listed ``listing_pages_per_step`` pages, saving the cursor
after each page (conditional on its claim), and enqueues the next step. The lister feeds its own queue, so Lambda's
recursive loop detection is off for it (``RecursiveLoop: Allow``); the engine's own guard fails a task after
``max_listing_hops`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aws_lambda_powertools.metrics import MetricUnit

from eraser.clock import new_id, utc_now
from eraser.config import engine_settings
from eraser.errors import TaskNotFound
from eraser.observability import logger, metrics
from eraser.storage import gateway
from eraser.storage.gateway import ListedVersion, S3Error
from eraser.tasks.engine import (
    RemainingMs,
    advance_if_pass_finished,
    cancel_other_tasks_of_targets,
    fail_task,
    finalize,
    resume_message,
)
from eraser.tasks.model import (
    ListingCursor,
    ListingMessage,
    SelectionMode,
    Task,
    TaskKind,
    TaskStatus,
)
from eraser.tasks.queues import cut_chunks, send_chunks, send_listing_step
from eraser.tasks.repository import TaskRepository
from eraser.tasks.selection import targeted_objects, targeted_versions

# Retrying these cannot help: the bucket is gone, or belongs to another account (ExpectedBucketOwner), or a policy
# denies the listing. The task fails at once with the reason instead of after five deliveries and a dead letter.
PERMANENT_LISTING_ERRORS = frozenset({"NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidBucketState"})
# A claim outlives its invocation's end by this much, for clock differences between Lambda hosts.
CLAIM_MARGIN = timedelta(seconds=5)


def run_listing_message(body: str, remaining_ms: RemainingMs) -> None:
    metrics.add_metric(name="ListingSteps", unit=MetricUnit.Count, value=1)
    run_listing_step(ListingMessage.model_validate_json(body), remaining_ms)


def run_listing_step(message: ListingMessage, remaining_ms: RemainingMs) -> None:
    repository = TaskRepository()
    try:
        task = repository.get(message.task_id)
    except TaskNotFound:
        logger.warning("Listing step for an unknown task", extra={"task_id": message.task_id})
        return
    if task.status == TaskStatus.PENDING:
        started = repository.start(task.id)
        task = started or repository.get(task.id)
        if started is not None and task.kind == TaskKind.DELETE_BUCKET:
            cancel_other_tasks_of_targets(task)
    if task.status != TaskStatus.RUNNING:
        return
    if message.step != task.current_step or (message.action == "list" and task.listing_done):
        logger.info("Stale listing step ignored", extra={"task_id": task.id, "step": message.step})
        return
    if message.action == "list" and message.hop >= engine_settings().max_listing_hops:
        fail_task(task.id, f"listing needed more than {engine_settings().max_listing_hops} steps "
                           "(the engine's hop cap)")
        return
    # The claim closes the race between copies of one step delivered side by side (the hop check alone stops only
    # a copy that starts after the first saved): the copy that does not get it enqueues nothing. The lease ends
    # when this invocation must have ended, so a copy delivered after a crash takes the step over.
    token = new_id("claim")
    until = utc_now() + timedelta(milliseconds=remaining_ms()) + CLAIM_MARGIN
    claimed = repository.claim_step(task, message.step, token, until)
    if claimed is None:
        logger.info("Listing step held by another delivery", extra={"task_id": task.id, "step": message.step})
        return
    try:
        if message.action == "finalize":
            _finalize_step(claimed, token, remaining_ms)
        else:
            _listing_step(claimed, token, remaining_ms)
    except Exception:
        # An error (not a dead invocation): SQS delivers the step again, which must not wait for the lease.
        repository.release_claim(task.id, token)
        raise


def _finalize_step(task: Task, token: str, remaining_ms: RemainingMs) -> None:
    if finalize(task, remaining_ms):
        return
    # Not finished within this invocation: hand over to the next hop, which only this claim's holder can.
    handed_over = TaskRepository().save_finalize_step(task, task.listing_hop, token)
    if handed_over is not None:
        send_listing_step(resume_message(handed_over))


def _listing_step(task: Task, token: str, remaining_ms: RemainingMs) -> None:
    """List up to ``listing_pages_per_step`` pages from the task's saved cursor, saving it after each page (so a
    crash lists again at most the page whose batches were enqueued but not saved), then hand over."""
    repository = TaskRepository()
    tuning = engine_settings()
    hop = task.listing_hop
    # The record's cursor, not the message's: pages saved by an earlier delivery of this step are not listed again.
    cursor = task.cursor.model_copy(deep=True)
    saved: Task | None = task
    for page in range(tuning.listing_pages_per_step):
        listed = ListedVersionsCount()
        if cursor.target_index < len(task.targets):
            try:
                _list_page(task, cursor, listed)
            except S3Error as error:
                _refused_listing(task, hop, token, cursor, error)
                return
        done = cursor.target_index >= len(task.targets)
        step_ends = done or page == tuning.listing_pages_per_step - 1 or remaining_ms() < tuning.listing_step_reserve_ms
        saved = repository.save_listing_step(task, hop, token, cursor, objects=listed.objects,
                                             versions=listed.versions, listing_done=done, step_ends=step_ends)
        if saved is None:
            # Cancelled or failed meanwhile (the claim cannot be lost before its lease ends).
            return
        if step_ends:
            break
    assert saved is not None
    if saved.listing_done:
        advance_if_pass_finished(saved)
    else:
        send_listing_step(ListingMessage(task_id=task.id, pass_number=task.pass_number, hop=saved.listing_hop,
                                         cursor=saved.cursor))


def _refused_listing(task: Task, hop: int, token: str, cursor: ListingCursor, error: S3Error) -> None:
    code = error.code
    if code not in PERMANENT_LISTING_ERRORS:
        raise error  # throttling or S3 trouble: SQS delivers the step again
    if code == "NoSuchBucket" and task.kind == TaskKind.DELETE_BUCKET:
        # Deleted outside Eraser: nothing to list; finalization removes the bucket's records.
        done = cursor.model_copy(update={"target_index": len(task.targets)})
        saved = TaskRepository().save_listing_step(task, hop, token, done, objects=0, versions=0, listing_done=True)
        if saved is not None:
            advance_if_pass_finished(saved)
        return
    target = task.targets[min(cursor.target_index, len(task.targets) - 1)]
    fail_task(task.id, f"S3 refused to list bucket '{target.bucket_name}': {code} ({error.message})")


@dataclass
class ListedVersionsCount:
    # Versions counts every targeted entry (versions and delete markers); objects only the versions.
    objects: int = 0
    versions: int = 0

    def add(self, selected: list[ListedVersion]) -> None:
        self.versions += len(selected)
        self.objects += sum(1 for entry in selected if not entry.is_delete_marker)


def _list_page(task: Task, cursor: ListingCursor, listed: ListedVersionsCount) -> None:
    """List the cursor's next page and enqueue its targeted versions as chunks; the cursor moves past the page."""
    target_index = cursor.target_index
    selected, with_version_ids = next_page(task, cursor)
    chunks = cut_chunks(task.id, target_index, task.pass_number, selected, cursor.next_seq,
                        with_version_ids=with_version_ids, described=task.is_dry_run)
    send_chunks(chunks)
    cursor.next_seq += len(chunks)
    listed.add(selected)


def next_page(task: Task, cursor: ListingCursor) -> tuple[list[ListedVersion], bool]:
    """List the cursor's next page, move the cursor past it, and return the versions the task targets (chosen by
    ``tasks.selection``)."""
    if task.selection.mode == SelectionMode.KEYS:
        return _next_keys_page(task, cursor), False
    target = task.targets[cursor.target_index]
    bucket = gateway.open_bucket(target.s3_bucket, task.account_id)
    page_size = engine_settings().listing_page_size
    if task.selection.mode == SelectionMode.ALL:
        if cursor.versioned is None:
            cursor.versioned = bucket.versioning_was_ever_enabled()
        if not cursor.versioned:
            objects = bucket.list_objects_page(prefix="", continuation_token=cursor.continuation_token,
                                               page_size=page_size)
            cursor.continuation_token = objects.continuation_token
            if objects.continuation_token is None:
                _next_target(cursor)
            return targeted_objects(task, objects), True
    page = bucket.list_versions_page(key_marker=cursor.key_marker, version_marker=cursor.version_marker,
                                     page_size=page_size)
    selected = targeted_versions(task, page, cursor)
    if page.is_last:
        _next_target(cursor)
    else:
        cursor.key_marker, cursor.version_marker = page.next_key_marker, page.next_version_marker
    return selected, True


def _next_keys_page(task: Task, cursor: ListingCursor) -> list[ListedVersion]:
    selection = task.selection
    page_size = engine_settings().listing_page_size
    if cursor.keys_offset < len(selection.keys):
        keys = selection.keys[cursor.keys_offset:cursor.keys_offset + page_size]
        cursor.keys_offset += len(keys)
        return [ListedVersion(key, None, 0, task.created_at, True, False) for key in keys]
    if cursor.prefix_index < len(selection.prefixes):
        target = task.targets[cursor.target_index]
        page = gateway.open_bucket(target.s3_bucket, task.account_id).list_objects_page(
            prefix=selection.prefixes[cursor.prefix_index], continuation_token=cursor.continuation_token,
            page_size=page_size)
        cursor.continuation_token = page.continuation_token
        if page.continuation_token is None:
            cursor.prefix_index += 1
        return targeted_objects(task, page)
    _next_target(cursor)
    return []


def _next_target(cursor: ListingCursor) -> None:
    cursor.target_index += 1
    cursor.key_marker = cursor.version_marker = cursor.continuation_token = None
    cursor.keys_offset = cursor.prefix_index = 0
    cursor.previous_key = cursor.previous_modified = None
    cursor.held_marker_key = cursor.held_marker_version = cursor.held_marker_modified = None
    cursor.anchor = None
    cursor.versioned = None
