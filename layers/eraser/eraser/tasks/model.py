"""What a deletion task is: its kind, targets, selection, status, counts, and the messages its workers exchange.

The task record is the single source of truth. Workers read the bucket, the organization and the owner's account id
from it (by the task id in their message), never from a message body alone.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from eraser.clock import utc_now
from eraser.storage.deletion import KeyFailure as KeyFailure  # a task's failure sample: the loop's per-key failure
from eraser.storage.outcomes import zero_counts
from eraser.tenancy import Bucket


class TaskKind(StrEnum):
    PURGE_BUCKET = "purge_bucket"
    DELETE_BUCKET = "delete_bucket"
    BULK_DELETE = "bulk_delete"
    TRASH_PURGE = "trash_purge"
    # What another kind would do, listed and predicted, nothing deleted (``previews`` names the kind).
    DRY_RUN = "dry_run"


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class Phase(StrEnum):
    """Where a running task is: listing pass ``pass_number`` (its chunks may still be deleting), or finalizing."""

    LISTING = "listing"
    FINALIZING = "finalizing"


class SelectionMode(StrEnum):
    # Every version, delete marker and incomplete multipart upload (purge, delete bucket).
    ALL = "all"
    # Only noncurrent versions and delete markers trashed at or before ``superseded_before``.
    TRASH = "trash"
    # Explicit keys and every current object under the prefixes (bulk delete); deletes without a version id.
    KEYS = "keys"


class Selection(BaseModel):
    """Which versions of a target a task deletes."""

    model_config = ConfigDict(frozen=True)

    mode: SelectionMode = SelectionMode.ALL
    superseded_before: datetime | None = None
    keys: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> "Selection":
        if self.mode == SelectionMode.TRASH and self.superseded_before is None:
            raise ValueError("a trash selection needs superseded_before")
        if self.mode == SelectionMode.KEYS and not (self.keys or self.prefixes):
            raise ValueError("a keys selection needs keys or prefixes")
        return self

    @classmethod
    def everything(cls) -> "Selection":
        return cls(mode=SelectionMode.ALL)

    @classmethod
    def trash(cls, superseded_before: datetime) -> "Selection":
        return cls(mode=SelectionMode.TRASH, superseded_before=superseded_before)

    @classmethod
    def keys_and_prefixes(cls, keys: list[str] | tuple[str, ...] = (), prefixes: list[str] | tuple[str, ...] = ()
                          ) -> "Selection":
        return cls(mode=SelectionMode.KEYS, keys=tuple(keys), prefixes=tuple(prefixes))


class Target(BaseModel):
    """One bucket a task works on (copied from the tenancy record when the task is created)."""

    model_config = ConfigDict(frozen=True)

    bucket_id: str
    bucket_name: str
    s3_bucket: str

    @classmethod
    def of(cls, bucket: Bucket) -> "Target":
        return cls(bucket_id=bucket.id, bucket_name=bucket.name, s3_bucket=bucket.s3_bucket)


class HeldVersion(BaseModel):
    """A listed version whose deletion waits for the next listing step (see ``ListingCursor.anchor``)."""

    key: str
    version_id: str | None = None
    size: int = 0
    last_modified: datetime
    is_delete_marker: bool = False


class ListingCursor(BaseModel):
    """Where listing resumes: the target, S3's markers, and what the trash selection must remember across pages."""

    target_index: int = 0
    # Whether the target's versioning was ever enabled (None: not asked yet). A bucket that never had versioning is
    # listed with ListObjectsV2: one version per key, and no version-id marker to go stale.
    versioned: bool | None = None
    key_marker: str | None = None
    version_marker: str | None = None
    continuation_token: str | None = None
    # Explicit keys (bulk delete) are enqueued before prefixes are listed; this is how many are already enqueued.
    keys_offset: int = 0
    prefix_index: int = 0
    # The trash selection needs the previous entry of the same key (the version that superseded this one).
    previous_key: str | None = None
    previous_modified: datetime | None = None
    # The version named by the next page's VersionIdMarker. moto answers an empty page when that version was deleted
    # meanwhile (S3 does not), so it is deleted only after the next page was listed: it rides along to that step.
    anchor: HeldVersion | None = None
    held_marker_key: str | None = None
    held_marker_version: str | None = None
    held_marker_modified: datetime | None = None
    # Chunk sequence numbers are assigned deterministically from the cursor, so re-listing a step after a crash
    # produces the same chunk ids and duplicate chunks are not counted twice.
    next_seq: int = 0
    # Trashed entries listed but newer than the trash retention, over every target (what a trash purge leaves).
    # Saved with the cursor after each page, so a page listed again after a crash is counted once.
    trash_newer: int = 0


class Counts(BaseModel):
    objects_listed: int = 0
    versions_listed: int = 0
    deleted: int = 0
    failed: int = 0
    bytes_freed: int = 0
    uploads_aborted: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    # How many entries ended in each outcome (docs/dry-run.md), every outcome present; counted with ``deleted`` and
    # ``failed``, once per chunk.
    outcomes: dict[str, int] = Field(default_factory=zero_counts)
    # A dry run's numbers beside its outcomes (storage.plan: objects, versions, delete_markers, bytes, legal_hold,
    # object_lock_retention, multipart_uploads), counted once per chunk like the rest.
    planned: dict[str, int] = Field(default_factory=dict)


class Task(BaseModel):
    id: str
    kind: TaskKind
    organization_id: str
    # The 12-digit account that owns the targets: every S3 call passes it as ExpectedBucketOwner.
    account_id: str
    targets: list[Target]
    selection: Selection = Selection()
    requested_by: str
    status: TaskStatus = TaskStatus.PENDING
    phase: Phase = Phase.LISTING
    pass_number: int = 1
    listing_done: bool = False
    listing_hop: int = 0
    cursor: ListingCursor = ListingCursor()
    counts: Counts = Counts()
    # Versions listed in the current pass: a sweep pass that lists nothing proves the targeted versions are gone.
    pass_listed: int = 0
    resumes: int = 0
    # The listing or finalize step one delivery is working on (see ``step_id``), under a lease that ends when that
    # invocation must have ended: another copy of the same step enqueues nothing until the lease has expired.
    claim_step: str | None = None
    claim_token: str | None = None
    claim_until: datetime | None = None
    # When a listing or finalize step last claimed, saved or was resumed: how the watchdog tells a lost step.
    stepped_at: datetime | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    last_error: str | None = None
    bucket_empty_at_end: bool | None = None
    bucket_deleted: bool = False
    object_count: int | None = None
    # For a dry run: the kind of request it previews.
    previews: TaskKind | None = None
    version: int = 0

    @property
    def acts_as(self) -> TaskKind:
        """The kind whose selection rules apply: a dry run lists exactly as the task it previews would."""
        return self.previews or self.kind

    @property
    def is_dry_run(self) -> bool:
        return self.kind == TaskKind.DRY_RUN

    @property
    def snapshot_at(self) -> datetime:
        """A purge targets versions last modified at or before this instant (what the bucket held when asked)."""
        return self.created_at

    @property
    def is_finished(self) -> bool:
        return self.status.is_finished

    @property
    def current_step(self) -> str:
        """The id of the step the task waits for; a listing message names the same step with ``step_id``."""
        return step_id("finalize" if self.phase == Phase.FINALIZING else "list", self.pass_number, self.listing_hop)

    def step_is_claimed(self, now: datetime) -> bool:
        return (self.claim_step == self.current_step and self.claim_until is not None
                and self.claim_until > now)

    @property
    def first_target(self) -> Target:
        return self.targets[0]

    def progress(self) -> "Progress":
        return Progress.of(self)


class Progress(BaseModel):
    """Progress for pollers: Mixpeek shows the fraction and rate, Katapult an integer 0..100."""

    fraction: float
    percent: int
    objects_deleted: int
    objects_failed: int
    versions_listed: int
    bytes_freed: int
    listing_complete: bool
    rate_per_second: float | None
    estimated_seconds_remaining: int | None

    @classmethod
    def of(cls, task: Task, now: datetime | None = None) -> "Progress":
        counts = task.counts
        # A dry run deletes nothing: its progress is the entries it has predicted.
        processed = sum(counts.outcomes.values()) if task.is_dry_run else counts.deleted + counts.failed
        listed = counts.versions_listed
        if task.status == TaskStatus.COMPLETED:
            fraction = 1.0
        elif listed == 0:
            fraction = 0.0
        else:
            # Until listing ends the total is unknown: never claim more than 99% before the task finishes.
            fraction = min(processed / listed, 0.99)
        started = task.started_at or task.created_at
        end = task.finished_at or now or utc_now()
        elapsed = max((end - started).total_seconds(), 0.0)
        rate = processed / elapsed if elapsed > 0 and processed else None
        remaining: int | None = None
        if not task.is_finished and rate and task.listing_done:
            remaining = math.ceil(max(listed - processed, 0) / rate)
        percent = 100 if task.is_finished else min(int(fraction * 100), 99)
        return cls(fraction=round(fraction, 4), percent=percent, objects_deleted=counts.deleted,
                   objects_failed=counts.failed, versions_listed=listed, bytes_freed=counts.bytes_freed,
                   listing_complete=task.listing_done, rate_per_second=round(rate, 2) if rate else None,
                   estimated_seconds_remaining=remaining)


# --- messages ---------------------------------------------------------------------------------------------------------
class ListingMessage(BaseModel):
    """One listing step. ``hop`` must equal the task's ``listing_hop``: anything else is a duplicate delivery."""

    task_id: str
    action: Literal["list", "finalize"] = "list"
    pass_number: int = 1
    hop: int = 0
    cursor: ListingCursor = ListingCursor()

    @property
    def step(self) -> str:
        return step_id(self.action, self.pass_number, self.hop)


def step_id(action: str, pass_number: int, hop: int) -> str:
    return f"{action}:{pass_number}:{hop}"


class ChunkEntry(BaseModel):
    """One version to delete: key, version id (None: delete the current object), size (bytes freed)."""

    k: str
    v: str | None = None
    s: int = 0
    # Described for a dry run only (so a deletion's messages do not grow): a delete marker (``m``), the key's
    # current entry (``c``).
    m: bool | None = None
    c: bool | None = None

    def to_s3(self) -> dict[str, Any]:
        return {"Key": self.k, "VersionId": self.v} if self.v else {"Key": self.k}


class ChunkMessage(BaseModel):
    """A batch of at most 1000 versions (one DeleteObjects call), identified by task id and sequence number."""

    task_id: str
    seq: int
    target_index: int
    pass_number: int
    entries: list[ChunkEntry] = Field(max_length=1000)

    @property
    def chunk_id(self) -> str:
        return f"{self.task_id}#{self.seq:09d}"


def expiry_of(finished_at: datetime, retention_days: int) -> int:
    """The TTL (epoch seconds) of a finished task."""
    return int((finished_at + timedelta(days=retention_days)).timestamp())


def retry_after_seconds(task: Task) -> int:
    """When a poller should look again: the estimated time left, between 1 and 30 s (Mixpeek's backoff bounds)."""
    estimate = task.progress().estimated_seconds_remaining
    return max(1, min(30, estimate if estimate is not None else 2))
