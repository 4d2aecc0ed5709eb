"""Listing steps: list a few pages, enqueue their targeted versions as chunks, checkpoint, hand over.

A step lists pages until its invocation nears its end (``context.get_remaining_time_in_millis``) or it has listed
``listing_pages_per_step`` pages, saves its cursor on the task (conditional on the hop it was given, so a duplicate
delivery of a step does nothing), and enqueues the next step. The lister feeds its own queue, so Lambda's recursive
loop detection is off for it (``RecursiveLoop: Allow``); the engine's own guard fails a task after
``max_listing_hops`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from eraser import aws
from eraser.errors import TaskNotFound
from eraser.observability import logger, metrics
from eraser.storage.listing import (
    ListedVersion,
    list_objects_page,
    list_versions_page,
    modified_by,
    trashed_before,
    versioning_was_ever_enabled,
)
from eraser.tasks.engine import (
    RemainingMs,
    advance_if_pass_finished,
    cancel_other_tasks_of_targets,
    fail_task,
    finalize,
)
from eraser.tasks.model import (
    HeldVersion,
    ListingCursor,
    ListingMessage,
    Phase,
    SelectionMode,
    Task,
    TaskKind,
    TaskStatus,
)
from eraser.tasks.queues import cut_chunks, send_chunks, send_listing_step
from eraser.tasks.repository import TaskRepository
from eraser.tasks.settings import engine_settings

# Retrying these cannot help: the bucket is gone, or belongs to another account (ExpectedBucketOwner), or a policy
# denies the listing. The task fails at once with the reason instead of after five deliveries and a dead letter.
PERMANENT_LISTING_ERRORS = frozenset({"NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidBucketState"})


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
    if message.action == "finalize":
        if task.phase == Phase.FINALIZING:
            finalize(task, remaining_ms)
        return
    if (task.phase != Phase.LISTING or task.listing_done or message.pass_number != task.pass_number
            or message.hop != task.listing_hop):
        logger.info("Stale listing step ignored", extra={"task_id": task.id, "hop": message.hop})
        return
    tuning = engine_settings()
    if message.hop >= tuning.max_listing_hops:
        fail_task(task.id, f"listing needed more than {tuning.max_listing_hops} steps (the engine's hop cap)")
        return
    try:
        step = _list_pages(task, message.cursor.model_copy(), remaining_ms)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code not in PERMANENT_LISTING_ERRORS:
            raise  # throttling or S3 trouble: SQS delivers the step again
        if code == "NoSuchBucket" and task.kind == TaskKind.DELETE_BUCKET:
            # Deleted outside Eraser: nothing to list; finalization removes the bucket's records.
            done = message.cursor.model_copy(update={"target_index": len(task.targets)})
            saved = repository.save_listing_step(task, message.hop, done, objects=0, versions=0, listing_done=True)
            if saved is not None:
                advance_if_pass_finished(saved)
            return
        target = task.targets[min(message.cursor.target_index, len(task.targets) - 1)]
        fail_task(task.id, f"S3 refused to list bucket '{target.bucket_name}': {code} "
                           f"({error.response['Error'].get('Message', '')})")
        return
    saved = repository.save_listing_step(task, message.hop, step.cursor, objects=step.listed.objects,
                                         versions=step.listed.versions, listing_done=step.done)
    if saved is None:
        # Cancelled, or another delivery of this step got there first: its chunks carry the same ids.
        return
    if step.done:
        advance_if_pass_finished(saved)
    else:
        send_listing_step(ListingMessage(task_id=task.id, pass_number=task.pass_number, hop=message.hop + 1,
                                         cursor=step.cursor))


@dataclass
class ListedVersionsCount:
    # Versions counts every targeted entry (versions and delete markers); objects only the versions.
    objects: int = 0
    versions: int = 0

    def add(self, selected: list[ListedVersion]) -> None:
        self.versions += len(selected)
        self.objects += sum(1 for entry in selected if not entry.is_delete_marker)


@dataclass
class _Step:
    cursor: ListingCursor
    listed: ListedVersionsCount = field(default_factory=ListedVersionsCount)
    done: bool = False


def _list_pages(task: Task, cursor: ListingCursor, remaining_ms: RemainingMs) -> _Step:
    tuning = engine_settings()
    step = _Step(cursor=cursor)
    for _ in range(tuning.listing_pages_per_step):
        if cursor.target_index >= len(task.targets):
            break
        target_index = cursor.target_index
        selected, with_version_ids = _next_page(task, cursor)
        chunks = cut_chunks(task.id, target_index, task.pass_number, selected, cursor.next_seq,
                            with_version_ids=with_version_ids)
        send_chunks(chunks)
        cursor.next_seq += len(chunks)
        step.listed.add(selected)
        if remaining_ms() < tuning.listing_step_reserve_ms:
            break
    step.done = cursor.target_index >= len(task.targets)
    return step


def _next_page(task: Task, cursor: ListingCursor) -> tuple[list[ListedVersion], bool]:
    """List the cursor's next page, move the cursor past it, and return the versions the task targets."""
    if task.selection.mode == SelectionMode.KEYS:
        return _next_keys_page(task, cursor), False
    s3 = aws.s3()
    target = task.targets[cursor.target_index]
    # A purge works on what the bucket held when it was asked for; deleting a bucket takes everything.
    cutoff = None if task.kind == TaskKind.DELETE_BUCKET else task.snapshot_at
    if task.selection.mode == SelectionMode.ALL:
        if cursor.versioned is None:
            cursor.versioned = versioning_was_ever_enabled(s3, target.s3_bucket, task.account_id)
        if not cursor.versioned:
            objects = list_objects_page(s3, target.s3_bucket, task.account_id, prefix="",
                                        continuation_token=cursor.continuation_token,
                                        page_size=engine_settings().listing_page_size)
            cursor.continuation_token = objects.continuation_token
            if objects.continuation_token is None:
                _next_target(cursor)
            return modified_by(objects.entries, cutoff), True
    page = list_versions_page(s3, target.s3_bucket, task.account_id, key_marker=cursor.key_marker,
                              version_marker=cursor.version_marker, page_size=engine_settings().listing_page_size)
    if task.selection.mode == SelectionMode.TRASH:
        assert task.selection.superseded_before is not None
        held = None
        if cursor.held_marker_key is not None and cursor.held_marker_modified is not None:
            held = ListedVersion(cursor.held_marker_key, cursor.held_marker_version, 0, cursor.held_marker_modified,
                                 True, True)
        trash = trashed_before(page.entries, task.selection.superseded_before, previous_key=cursor.previous_key,
                               previous_modified=cursor.previous_modified, held_marker=held)
        selected = trash.selected
        cursor.previous_key, cursor.previous_modified = trash.previous_key, trash.previous_modified
        marker = trash.held_marker
        if marker is not None and page.is_last:
            selected.append(marker)
            marker = None
        cursor.held_marker_key = marker.key if marker else None
        cursor.held_marker_version = marker.version_id if marker else None
        cursor.held_marker_modified = marker.last_modified if marker else None
    else:
        selected = modified_by(page.entries, cutoff)
    carried = cursor.anchor
    cursor.anchor = None
    if not page.is_last:
        anchor = next((entry for entry in selected if (entry.key, entry.version_id)
                       == (page.next_key_marker, page.next_version_marker)), None)
        if anchor is not None:
            selected = [entry for entry in selected if entry is not anchor]
            cursor.anchor = HeldVersion(key=anchor.key, version_id=anchor.version_id, size=anchor.size,
                                        last_modified=anchor.last_modified,
                                        is_delete_marker=anchor.is_delete_marker)
    if carried is not None:
        selected = [ListedVersion(carried.key, carried.version_id, carried.size, carried.last_modified, False,
                                  carried.is_delete_marker), *selected]
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
        page = list_objects_page(aws.s3(), target.s3_bucket, task.account_id,
                                 prefix=selection.prefixes[cursor.prefix_index],
                                 continuation_token=cursor.continuation_token, page_size=page_size)
        cursor.continuation_token = page.continuation_token
        if page.continuation_token is None:
            cursor.prefix_index += 1
        # A key named explicitly and also under a prefix is deleted (and counted) once.
        named = set(selection.keys)
        return [entry for entry in modified_by(page.entries, task.snapshot_at) if entry.key not in named]
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
