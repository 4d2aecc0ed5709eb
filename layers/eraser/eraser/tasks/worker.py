"""Deleting one chunk: a DeleteObjects call of at most 1000 keys, its per-key errors, and counting it exactly once.

DeleteObjects answers 200 even when keys fail. Keys failing with a retryable code (SlowDown, InternalError...) are
retried in this invocation with exponential backoff and full jitter, a bounded number of times, then the chunk is
left to SQS to deliver again (throttling never counts as a failure of a key); keys failing for good
(AccessDenied from Object Lock or a legal hold, ...) are reported on the task and never counted as deleted. A whole
call that is throttled after botocore's own retries raises, so SQS redelivers the chunk later: nothing was counted
yet, and the chunk record makes the count happen once however often it is delivered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from eraser import aws
from eraser.config import engine_settings
from eraser.errors import TaskNotFound
from eraser.observability import logger, metrics
from eraser.storage.keys import DELETE_OBJECTS_MAX_KEYS, fits_in_xml
from eraser.storage.retries import RETRYABLE_ERRORS, full_jitter
from eraser.tasks.engine import advance_if_pass_finished
from eraser.tasks.model import ChunkEntry, ChunkMessage, KeyFailure, TaskStatus
from eraser.tasks.repository import TaskRepository

# A whole call can also fail with a bare HTTP status as its code (botocore's parse of an empty 500/503 body).
RETRYABLE_CALL_ERRORS = RETRYABLE_ERRORS | {"503", "500"}


class KeysStillThrottled(Exception):
    """Keys DeleteObjects kept reporting as retryable (SlowDown, InternalError...) after the in-process retries."""


@dataclass
class ChunkOutcome:
    deleted: list[ChunkEntry] = field(default_factory=list)
    failures: list[tuple[ChunkEntry, str, str]] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(entry.s for entry in self.deleted)


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
    outcome = delete_entries(aws.s3(), target.s3_bucket, task.account_id, chunk.entries)
    sample = engine_settings().failure_sample_size
    failures = [KeyFailure(key=entry.k, version_id=entry.v, code=code, message=message)
                for entry, code, message in outcome.failures[:sample]]
    counted = repository.record_chunk(chunk, deleted=len(outcome.deleted), failed=len(outcome.failures),
                                      bytes_freed=outcome.bytes_freed, failures=failures)
    if counted:
        metrics.add_metric(name="ObjectsDeleted", unit=MetricUnit.Count, value=len(outcome.deleted))
        metrics.add_metric(name="ObjectsNotDeleted", unit=MetricUnit.Count, value=len(outcome.failures))
        advance_if_pass_finished(repository.get(task.id))


def delete_entries(s3: Any, bucket: str, owner: str, entries: list[ChunkEntry]) -> ChunkOutcome:
    if len(entries) > DELETE_OBJECTS_MAX_KEYS:
        raise ValueError(f"DeleteObjects takes at most {DELETE_OBJECTS_MAX_KEYS} keys, got {len(entries)}")
    tuning = engine_settings()
    outcome = ChunkOutcome()
    # A key with characters XML 1.0 cannot carry would make the whole DeleteObjects call MalformedXML: such keys are
    # deleted one by one with DeleteObject, whose key travels URL-encoded in the path.
    pending = [entry for entry in entries if fits_in_xml(entry.k)]
    for entry in entries:
        if not fits_in_xml(entry.k):
            _delete_one(s3, bucket, owner, entry, outcome)
    if not pending:
        return outcome
    last_errors: dict[tuple[str, str | None], tuple[str, str]] = {}
    for attempt in range(tuning.key_retry_attempts):
        if attempt:
            _back_off(attempt, tuning.key_retry_base_seconds)
        try:
            errors = _delete_objects(s3, bucket, owner, pending)
        except ClientError as refused:
            if refused.response["Error"]["Code"] in RETRYABLE_CALL_ERRORS:
                raise
            # The whole call was refused (a policy, another owner, the bucket is gone): every key failed with it.
            code, message = refused.response["Error"]["Code"], refused.response["Error"].get("Message", "")
            outcome.failures += [(entry, code, message) for entry in pending]
            return outcome
        retry: list[ChunkEntry] = []
        for entry in pending:
            error = errors.get((entry.k, entry.v)) or errors.get((entry.k, None))
            if error is None:
                outcome.deleted.append(entry)
            elif error[0] in RETRYABLE_ERRORS:
                retry.append(entry)
                last_errors[(entry.k, entry.v)] = error
            else:
                outcome.failures.append((entry, error[0], error[1]))
        pending = retry
        if not pending:
            break
    if pending:
        # Throttling is not a failure of the keys: the whole chunk is delivered again after the visibility timeout
        # (keys deleted now are reported deleted again then, and the chunk is counted once). After the queue's 5
        # receives it is dead-lettered and the task fails with that reason.
        code, message = last_errors[(pending[0].k, pending[0].v)]
        raise KeysStillThrottled(f"{len(pending)} keys still answered {code} after {tuning.key_retry_attempts} "
                                 f"attempts ({message})")
    return outcome


def _delete_one(s3: Any, bucket: str, owner: str, entry: ChunkEntry, outcome: ChunkOutcome) -> None:
    arguments: dict[str, Any] = {"Bucket": bucket, "Key": entry.k, "ExpectedBucketOwner": owner}
    if entry.v:
        arguments["VersionId"] = entry.v
    try:
        s3.delete_object(**arguments)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in RETRYABLE_CALL_ERRORS:
            raise
        outcome.failures.append((entry, code, error.response["Error"].get("Message", "")))
        return
    outcome.deleted.append(entry)


def _delete_objects(s3: Any, bucket: str, owner: str, entries: list[ChunkEntry]
                    ) -> dict[tuple[str, str | None], tuple[str, str]]:
    """One DeleteObjects call (Quiet: only errors come back); a throttled call is retried a few times here."""
    tuning = engine_settings()
    request = {"Objects": [entry.to_s3() for entry in entries], "Quiet": True}
    for attempt in range(tuning.key_retry_attempts):
        if attempt:
            _back_off(attempt, tuning.key_retry_base_seconds)
        try:
            response = s3.delete_objects(Bucket=bucket, ExpectedBucketOwner=owner, Delete=request)
            break
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code not in RETRYABLE_CALL_ERRORS or attempt == tuning.key_retry_attempts - 1:
                raise
    return {(item["Key"], item.get("VersionId")): (item.get("Code", "InternalError"), item.get("Message", ""))
            for item in response.get("Errors", [])}


def _back_off(attempt: int, base_seconds: float) -> None:
    time.sleep(full_jitter(attempt, base_seconds, cap_seconds=20.0))
