"""Deleting one chunk: a DeleteObjects call of at most 1000 keys, its per-key errors, and counting it exactly once.

The deletion itself is the loop every deleting path shares (``storage.deletion``), with the task settings' attempts
and backoff. DeleteObjects answers 200 even when keys fail. Keys failing with a retryable code (SlowDown,
InternalError...) are retried in this invocation with exponential backoff and full jitter, a bounded number of times;
keys failing for good (AccessDenied from Object Lock or a legal hold, ...) are reported on the task and never counted
as deleted; a whole call refused for good (a policy, another owner, the bucket gone) fails every key of the chunk.
What the worker does after the last attempt is its own: keys still throttled, or a whole call still throttled after
botocore's and the loop's retries, raise, so SQS redelivers the chunk later (throttling never counts as a failure of
a key): nothing was counted yet, and the chunk record makes the count happen once however often it is delivered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from eraser.config import EngineSettings, engine_settings
from eraser.errors import TaskNotFound
from eraser.observability import logger, metrics
from eraser.storage import gateway
from eraser.storage.deletion import (
    AttemptOutcome,
    KeyFailure,
    ObjectTarget,
    RetryPolicy,
    S3ObjectStore,
    delete_versions,
)
from eraser.storage.keys import DELETE_OBJECTS_MAX_KEYS
from eraser.storage.outcomes import Outcome
from eraser.storage.plan import DELETING_OUTCOMES, EntryPlanner, PlannedVersion, PlanTally
from eraser.storage.rate import PrefixRates
from eraser.tasks import receipts
from eraser.tasks.engine import advance_if_pass_finished
from eraser.tasks.model import ChunkEntry, ChunkMessage, SelectionMode, Task, TaskStatus
from eraser.tasks.repository import TaskRepository

# Each worker process paces its DeleteObjects calls per key prefix, and slows a prefix S3 throttles (storage.rate).
DELETE_RATES = PrefixRates()
# The longest pause between two attempts: a worker has minutes, not a request's seconds.
BACKOFF_CAP_SECONDS = 20.0


class KeysStillThrottled(Exception):
    """Keys (or whole calls) S3 kept failing with a retryable code (SlowDown, InternalError...) after the retries."""


@dataclass
class ChunkOutcome:
    """Per entry of the chunk (an entry named twice counts twice, as it was listed): deleted, or failed for good."""

    deleted: list[ChunkEntry] = field(default_factory=list)
    failures: list[KeyFailure] = field(default_factory=list)
    # Entries per outcome (deleted, delete_marker_created, blocked_by_retention...).
    outcomes: Counter[str] = field(default_factory=Counter)
    # Each entry with its outcome, in the chunk's order: the lines of its receipt part.
    results: list[receipts.EntryResult] = field(default_factory=list)


def delete_chunk_message(body: str) -> None:
    metrics.add_metric(name="DeletionBatchesReceived", unit=MetricUnit.Count, value=1)
    delete_chunk(ChunkMessage.model_validate_json(body))


def delete_chunk(chunk: ChunkMessage) -> None:
    repository = TaskRepository()
    try:
        task = repository.get(chunk.task_id)
    except TaskNotFound:
        logger.warning("Chunk of an unknown task dropped", extra={"task_id": chunk.task_id})
        return
    if task.status != TaskStatus.RUNNING:
        # Cancelled or failed: stop at this batch boundary.
        return
    if repository.chunk_recorded(task.id, chunk.seq):
        # A duplicate delivery of a chunk already counted: nothing to delete, maybe the end of the pass to claim.
        advance_if_pass_finished(task)
        return
    target = task.targets[chunk.target_index]
    sample = engine_settings().failure_sample_size
    if task.is_dry_run:
        # Deletes nothing, so writes no manifest part: its receipt is its summary alone (docs/receipts.md).
        _plan_chunk(repository, task, chunk, sample)
        return
    outcome = delete_entries(target.s3_bucket, task.account_id, chunk.entries)
    # The chunk's receipt part, written once: the chunk is counted from the part as stored, its outcomes too, so
    # the manifest's lines per outcome equal the task's counts.outcomes.
    part = receipts.write_chunk_part(task, chunk, outcome.results)
    counted = repository.record_chunk(chunk, deleted=part.deleted, failed=part.failed,
                                      bytes_freed=part.bytes_freed, failures=part.failures[:sample],
                                      outcomes=part.outcomes, receipt=part.record)
    if counted:
        metrics.add_metric(name="ObjectsDeleted", unit=MetricUnit.Count, value=part.deleted)
        metrics.add_metric(name="ObjectsNotDeleted", unit=MetricUnit.Count, value=part.failed)
        advance_if_pass_finished(repository.get(task.id))


def _plan_chunk(repository: TaskRepository, task: Task, chunk: ChunkMessage, sample: int) -> None:
    """A dry run's chunk: each entry's would-be outcome (storage.plan), counted once like a deletion's, nothing
    deleted. Entries a prefix listing found exist; keys a request named are checked (a keys selection)."""
    target = task.targets[chunk.target_index]
    planner = EntryPlanner(gateway.open_bucket(target.s3_bucket, task.account_id, call_retry=_retry(engine_settings())))
    named = set(task.selection.keys) if task.selection.mode == SelectionMode.KEYS else set()
    tally = PlanTally()
    for entry in chunk.entries:
        prediction = planner.predict(entry.k, entry.v or None, is_delete_marker=bool(entry.m),
                                     listed=entry.k not in named)
        tally.add(PlannedVersion(key=entry.k, version_id=entry.v or None, size=entry.s,
                                 is_delete_marker=bool(entry.m), is_latest=bool(entry.c) or not entry.v,
                                 prediction=prediction))
    left = [KeyFailure(key=planned.key, version_id=planned.version_id, code=_LEFT_CODES[planned.outcome],
                       message=f"would be left: {planned.reason.value if planned.reason else planned.outcome.value}",
                       outcome=planned.outcome)
            for planned in tally.sample() if planned.outcome not in DELETING_OUTCOMES][:sample]
    if repository.record_chunk(chunk, deleted=0, failed=0, bytes_freed=0, failures=left, outcomes=tally.outcomes(),
                               planned=tally.counts()):
        advance_if_pass_finished(repository.get(task.id))


# What S3 would answer for an entry a dry run predicts is left (a task's failure sample carries S3's code).
_LEFT_CODES = {Outcome.BLOCKED_BY_RETENTION: "AccessDenied", Outcome.ALREADY_ABSENT: "NoSuchVersion",
               Outcome.ACCESS_DENIED: "AccessDenied", Outcome.PRECONDITION_FAILED: "PreconditionFailed",
               Outcome.THROTTLED: "SlowDown", Outcome.FAILED: "InternalError"}


def delete_entries(s3_bucket: str, owner: str, entries: list[ChunkEntry], *, client: Any | None = None
                   ) -> ChunkOutcome:
    if len(entries) > DELETE_OBJECTS_MAX_KEYS:
        raise ValueError(f"DeleteObjects takes at most {DELETE_OBJECTS_MAX_KEYS} keys, got {len(entries)}")
    tuning = engine_settings()
    # The task engine's client retries whole calls itself (botocore's standard mode); the loop's own call retries
    # come on top, as many as the per-key ones and with the same backoff. No deadline: a worker killed by its
    # timeout is redelivered by SQS.
    retry = _retry(tuning)
    store = S3ObjectStore(gateway.open_bucket(s3_bucket, owner, call_retry=retry, client=client), s3_bucket,
                          missing_bucket_fails_keys=True, rates=DELETE_RATES)
    targets = list(dict.fromkeys(_target_of(entry) for entry in entries))
    deletion = delete_versions(store, targets, retry)
    _raise_if_still_throttled(deletion, targets, tuning.key_retry_attempts)
    outcome = ChunkOutcome()
    outcomes = deletion.outcomes
    for entry in entries:
        target = _target_of(entry)
        failure = None
        if target in deletion.deleted:
            outcome.deleted.append(entry)
        else:
            failure = deletion.failed[target]
            outcome.failures.append(failure)
        outcome.outcomes[outcomes[target].value] += 1
        outcome.results.append(receipts.EntryResult(entry, outcomes[target], failure))
    return outcome


def _raise_if_still_throttled(deletion: AttemptOutcome[ObjectTarget], targets: list[ObjectTarget],
                              attempts: int) -> None:
    """Throttling is not a failure of the keys: the whole chunk is delivered again after the visibility timeout
    (keys deleted now are reported deleted again then, and the chunk is counted once). After the queue's 5 receives
    it is dead-lettered and the task fails with that reason."""
    throttled = [failure for failure in deletion.failed.values() if failure.retryable]
    unanswered = deletion.left_of(targets)
    if not throttled and not unanswered:
        return
    if throttled:
        code, message = throttled[0].code, throttled[0].message
    else:
        code = (deletion.out_of_time.last_code if deletion.out_of_time else None) or "no answer"
        message = "the calls themselves kept failing"
    raise KeysStillThrottled(f"{len(throttled) + len(unanswered)} keys still answered {code} after {attempts} "
                             f"attempts ({message})")


def _target_of(entry: ChunkEntry) -> ObjectTarget:
    # An empty version id is no version id (ChunkEntry.to_s3 leaves it out too).
    return ObjectTarget(entry.k, entry.v or None)


def _retry(tuning: EngineSettings) -> RetryPolicy:
    return RetryPolicy(attempts=tuning.key_retry_attempts, base_delay=tuning.key_retry_base_seconds,
                       max_delay=BACKOFF_CAP_SECONDS)
