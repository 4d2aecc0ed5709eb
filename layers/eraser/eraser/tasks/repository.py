"""Persistence of tasks in the deletion-tasks table. Every state change is a conditional write.

Items (``pk``/``sk``):
- ``TASK#<id>`` / ``TASK``: the task. Counts are top-level numbers (DynamoDB's ``ADD`` works on top-level attributes
  only), the count of each outcome too (``outcome_<outcome>``: no map to create first, and a task written before
  outcomes existed counts from zero). While unfinished it carries ``active_status`` and ``heartbeat_at``, the keys
  of the sparse ``active-tasks`` index the watchdog queries; finished tasks lose ``active_status`` and get
  ``expires_at`` (TTL).
- ``TASK#<id>`` / ``CHUNK#<seq>``: one deleted batch, written once (``attribute_not_exists``) in the same
  transaction that adds its counts to the task: a redelivered batch fails the condition and is not counted twice.
  It keeps the batch's receipt part (``receipt_key``, ``receipt_sha256``, ``receipt_lines``, ``receipt_outcomes``).
- ``TASK#<id>`` / ``EVENT#<state>``: the task's state change event was published (``tasks.events``).
- ``TASK#<id>`` / ``FAIL#<seq>``: the per-key failures of one batch (at most the sample size each).
- ``BUCKETLOCK#<bucket id>`` / ``LOCK``: the bucket's one running purge or delete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from eraser import aws
from eraser.clock import utc_now
from eraser.config import settings
from eraser.errors import TaskNotFound
from eraser.storage import retries
from eraser.storage.outcomes import Outcome
from eraser.tasks import events, receipts
from eraser.tasks.model import (
    ChunkMessage,
    Counts,
    KeyFailure,
    ListingCursor,
    Phase,
    Task,
    TaskStatus,
    expiry_of,
)

Result = TypeVar("Result")
ACTIVE = "active"
ACTIVE_INDEX = "active-tasks"
TASK_SK = "TASK"
_COUNT_FIELDS = tuple(name for name in Counts.model_fields if name not in ("outcomes", "planned"))
_OUTCOME_PREFIX = "outcome_"
# A dry run's planned numbers, top-level like the outcomes (``plan_objects``, ``plan_legal_hold``...).
_PLANNED_PREFIX = "plan_"
# SQS keeps a message at most 14 days: a chunk record must outlive any redelivery of its batch.
_CHUNK_RECORD_DAYS = 14


def _outcome_attribute(outcome: str) -> str:
    return _OUTCOME_PREFIX + outcome


def _planned_attribute(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a planned count: {name!r}")
    return _PLANNED_PREFIX + name


def iso(moment: datetime) -> str:
    """A fixed-width UTC timestamp: ``heartbeat_at`` is an index sort key compared as a string."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def task_key(task_id: str) -> dict[str, str]:
    return {"pk": f"TASK#{task_id}", "sk": TASK_SK}


def _lock_key(bucket_id: str) -> dict[str, str]:
    return {"pk": f"BUCKETLOCK#{bucket_id}", "sk": "LOCK"}


class LockHeld(Exception):
    def __init__(self, bucket_id: str, task_id: str | None) -> None:
        super().__init__(f"bucket {bucket_id} is locked by task {task_id}")
        self.bucket_id = bucket_id
        self.task_id = task_id


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in values.items()}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _drop_none(inner) for name, inner in value.items() if inner is not None}
    if isinstance(value, list):
        return [_drop_none(inner) for inner in value]
    return value


def to_item(task: Task) -> dict[str, Any]:
    item: dict[str, Any] = task.model_dump(mode="json", exclude={"counts"})
    item.update(task.counts.model_dump(exclude={"outcomes", "planned"}))
    item.update({_planned_attribute(name): count for name, count in task.counts.planned.items()})
    item.update({_outcome_attribute(outcome): count for outcome, count in task.counts.outcomes.items()})
    item.update(task_key(task.id))
    if task.heartbeat_at is not None:
        item["heartbeat_at"] = iso(task.heartbeat_at)
    if task.is_finished:
        assert task.finished_at is not None
        item["expires_at"] = expiry_of(task.finished_at, settings().task_retention_days)
    else:
        item["active_status"] = ACTIVE
    return _drop_none(item)


def from_item(item: dict[str, Any]) -> Task:
    values = {name: value for name, value in item.items() if name not in ("pk", "sk", "active_status", "expires_at")}
    values["counts"] = {name: values.pop(name, 0) for name in _COUNT_FIELDS}
    values["counts"]["outcomes"] = {outcome.value: values.pop(_outcome_attribute(outcome.value), 0)
                                    for outcome in Outcome}
    values["counts"]["planned"] = {name[len(_PLANNED_PREFIX):]: int(values.pop(name))
                                   for name in [name for name in values if name.startswith(_PLANNED_PREFIX)]}
    return Task.model_validate(values)


def _is_condition_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _cancellation_codes(error: ClientError) -> list[str]:
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


# DynamoDB refuses a write on an item that another transaction is writing (TransactionConflictException; a
# transaction gets TransactionCanceledException with reason TransactionConflict). Both are 400s botocore does not
# retry, and nothing was written: the task item takes one transaction per chunk and one cursor write per page, so
# these are retried here rather than failing the step or the chunk until its message's visibility timeout ends.
CONFLICT_ATTEMPTS = 5
_CONFLICT_BASE_SECONDS = 0.02
_CONFLICT_CAP_SECONDS = 1.0


def _is_conflict(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    return code == "TransactionConflictException" or (
        code == "TransactionCanceledException" and "TransactionConflict" in _cancellation_codes(error))


def _retrying_conflicts(call: Callable[[], Result]) -> Result:
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            return call()
        except ClientError as error:
            if attempt + 1 == CONFLICT_ATTEMPTS or not _is_conflict(error):
                raise
            retries.wait(retries.full_jitter(attempt, _CONFLICT_BASE_SECONDS, _CONFLICT_CAP_SECONDS))
    raise AssertionError("unreachable")


class TaskRepository:
    def __init__(self, table_name: str | None = None) -> None:
        self._table = aws.table(table_name or settings().tasks_table)

    @property
    def table_name(self) -> str:
        return str(self._table.name)

    # --- creating and reading -------------------------------------------------------------------------------------
    def create(self, task: Task, lock_bucket_ids: list[str] = ()) -> None:  # type: ignore[assignment]
        """Write a new task and, for exclusive tasks, the lock of each target bucket, all or nothing."""
        items: list[dict[str, Any]] = [{"Put": {"TableName": self.table_name, "Item": _serialize(to_item(task)),
                                                "ConditionExpression": "attribute_not_exists(pk)"}}]
        for bucket_id in lock_bucket_ids:
            lock = {**_lock_key(bucket_id), "task_id": task.id, "kind": task.kind.value,
                    "created_at": iso(task.created_at)}
            items.append({"Put": {"TableName": self.table_name, "Item": _serialize(lock),
                                  "ConditionExpression": "attribute_not_exists(pk)"}})
        try:
            aws.dynamodb_client().transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = _cancellation_codes(error)
            for index, code in enumerate(codes[1:]):
                if code == "ConditionalCheckFailed":
                    bucket_id = lock_bucket_ids[index]
                    raise LockHeld(bucket_id, self.lock_holder(bucket_id)) from error
            raise
        events.task_state_changed(task)

    def lock_holder(self, bucket_id: str) -> str | None:
        item = self._table.get_item(Key=_lock_key(bucket_id), ConsistentRead=True).get("Item")
        return str(item["task_id"]) if item else None

    def break_stale_lock(self, bucket_id: str, task_id: str) -> None:
        """Remove a lock left by a finished task (its release failed after the task finished)."""
        try:
            self._table.delete_item(Key=_lock_key(bucket_id), ConditionExpression="task_id = :id",
                                    ExpressionAttributeValues={":id": task_id})
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def release_locks(self, task: Task) -> None:
        for target in task.targets:
            self.break_stale_lock(target.bucket_id, task.id)

    def get(self, task_id: str) -> Task:
        key = task_key(task_id)
        if not aws.fits_dynamodb_key(key["pk"], aws.PARTITION_KEY_MAX_BYTES):
            raise TaskNotFound(task_id)
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        if not item:
            raise TaskNotFound(task_id)
        return from_item(item)

    def failures(self, task_id: str, limit: int) -> list[KeyFailure]:
        found: list[KeyFailure] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"TASK#{task_id}")
                                  & Key("sk").begins_with("FAIL#")}
        while len(found) < limit:
            page = self._table.query(**kwargs)
            for item in page["Items"]:
                found += [KeyFailure.model_validate(failure) for failure in item.get("failures", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    # --- state changes ------------------------------------------------------------------------------------------------
    def _update(self, task_id: str, expression: str, condition: str, values: dict[str, Any],
                names: dict[str, str] | None = None) -> Task | None:
        """A conditional update returning the new task, or None when the condition did not hold."""
        arguments: dict[str, Any] = {"Key": task_key(task_id), "UpdateExpression": expression,
                                     "ConditionExpression": f"attribute_exists(pk) AND ({condition})",
                                     "ExpressionAttributeValues": values, "ReturnValues": "ALL_NEW"}
        if names:
            arguments["ExpressionAttributeNames"] = names
        try:
            return from_item(_retrying_conflicts(lambda: self._table.update_item(**arguments))["Attributes"])
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise

    def start(self, task_id: str) -> Task | None:
        now = utc_now()
        started = self._update(task_id, "SET #status = :running, started_at = :now, heartbeat_at = :beat, "
                                     "stepped_at = :now, version = version + :one",
                            "#status = :pending",
                            {":running": TaskStatus.RUNNING.value, ":pending": TaskStatus.PENDING.value,
                             ":now": now.isoformat(), ":beat": iso(now), ":one": 1},
                            {"#status": "status"})
        if started is not None:
            events.task_state_changed(started)
        return started

    def claim_step(self, task: Task, step: str, token: str, until: datetime) -> Task | None:
        """Take the task's current step for one delivery, until ``until`` (when that invocation must have ended).
        None when the task does not wait for this step (it moved on, or was cancelled) or another delivery holds
        it under a live lease: that copy must enqueue nothing. An expired lease is taken over (its worker died)."""
        now = utc_now()
        return self._update(
            task.id,
            "SET claim_step = :step, claim_token = :token, claim_until = :until, stepped_at = :now, "
            "heartbeat_at = :beat, version = version + :one",
            "#status = :running AND listing_hop = :hop AND pass_number = :pass AND phase = :phase "
            "AND (attribute_not_exists(claim_step) OR claim_step <> :step OR claim_until < :beat)",
            {":step": step, ":token": token, ":until": iso(until), ":now": now.isoformat(), ":beat": iso(now),
             ":one": 1, ":running": TaskStatus.RUNNING.value, ":hop": task.listing_hop,
             ":pass": task.pass_number, ":phase": task.phase.value},
            {"#status": "status"},
        )

    def release_claim(self, task_id: str, token: str) -> None:
        """Give a step back (its invocation failed with an error and SQS will deliver it again)."""
        self._update(task_id, "REMOVE claim_step, claim_token, claim_until", "claim_token = :token",
                     {":token": token})

    def save_listing_step(self, task: Task, hop: int, token: str, cursor: ListingCursor, *, objects: int,
                          versions: int, listing_done: bool, step_ends: bool = True) -> Task | None:
        """Record a listed page (or a whole step): only the delivery holding the step's claim can, and only while
        the task expects that step (``listing_hop``) of the current pass. ``step_ends`` hands over to hop + 1."""
        now = utc_now()
        return self._update(
            task.id,
            "SET listing_hop = :next_hop, #cursor = :cursor, chunks_total = :chunks_total, listing_done = :done, "
            "heartbeat_at = :beat, stepped_at = :now, resumes = :zero, version = version + :one "
            "ADD objects_listed :objects, versions_listed :versions, pass_listed :versions",
            "#status = :running AND listing_hop = :hop AND pass_number = :pass AND phase = :listing "
            "AND claim_token = :token",
            {":next_hop": hop + 1 if step_ends else hop, ":cursor": _drop_none(cursor.model_dump(mode="json")),
             ":chunks_total": cursor.next_seq, ":done": listing_done, ":beat": iso(now), ":now": now.isoformat(),
             ":zero": 0, ":one": 1, ":objects": objects, ":versions": versions,
             ":running": TaskStatus.RUNNING.value, ":hop": hop, ":pass": task.pass_number,
             ":listing": Phase.LISTING.value, ":token": token},
            {"#status": "status", "#cursor": "cursor"},
        )

    def save_finalize_step(self, task: Task, hop: int, token: str) -> Task | None:
        """Hand a finalization that needs another invocation over to hop + 1 (only the claim's holder can)."""
        now = utc_now()
        return self._update(
            task.id, "SET listing_hop = :next_hop, heartbeat_at = :beat, stepped_at = :now, resumes = :zero, "
                     "version = version + :one",
            "#status = :running AND listing_hop = :hop AND phase = :finalizing AND claim_token = :token",
            {":next_hop": hop + 1, ":beat": iso(now), ":now": now.isoformat(), ":zero": 0, ":one": 1,
             ":running": TaskStatus.RUNNING.value, ":hop": hop, ":finalizing": Phase.FINALIZING.value,
             ":token": token},
            {"#status": "status"},
        )

    def chunk_recorded(self, task_id: str, seq: int) -> bool:
        key = {"pk": f"TASK#{task_id}", "sk": f"CHUNK#{seq:09d}"}
        return "Item" in self._table.get_item(Key=key, ConsistentRead=True)

    def record_chunk(self, chunk: ChunkMessage, *, deleted: int, failed: int, bytes_freed: int,
                     failures: list[KeyFailure], outcomes: Mapping[str, int] | None = None,
                     planned: Mapping[str, int] | None = None, receipt: receipts.PartRecord | None = None) -> bool:
        """Count a chunk once, its entries per outcome (and a dry run's planned numbers) with it: False when it was
        already counted (a duplicate delivery). ``receipt``: its manifest part, kept on the chunk record for the
        task's receipt summary."""
        now = utc_now()
        expires_at = int((now + timedelta(days=settings().task_retention_days + _CHUNK_RECORD_DAYS)).timestamp())
        pk = f"TASK#{chunk.task_id}"
        chunk_item = {"pk": pk, "sk": f"CHUNK#{chunk.seq:09d}", "deleted": deleted, "failed": failed,
                      "bytes_freed": bytes_freed, "pass_number": chunk.pass_number, "recorded_at": iso(now),
                      "expires_at": expires_at, **(receipt.as_item() if receipt else {})}
        counted = {Outcome(outcome): count for outcome, count in (outcomes or {}).items() if count}
        additions = {_outcome_attribute(outcome): count for outcome, count in counted.items()}
        additions.update({_planned_attribute(name): count for name, count in (planned or {}).items() if count})
        outcome_additions = "".join(f", {name} :{name}" for name in additions)
        items: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table_name, "Item": _serialize(chunk_item),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": self.table_name, "Key": _serialize(task_key(chunk.task_id)),
                        "UpdateExpression": "ADD deleted :deleted, failed :failed, bytes_freed :bytes, "
                                            f"chunks_done :one{outcome_additions} "
                                            "SET heartbeat_at = :beat, resumes = :zero",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": _serialize({
                            ":deleted": deleted, ":failed": failed, ":bytes": bytes_freed, ":one": 1, ":zero": 0,
                            ":beat": iso(now),
                            **{f":{name}": count for name, count in additions.items()}})}},
        ]
        if failures:
            failure_item = {"pk": pk, "sk": f"FAIL#{chunk.seq:09d}", "expires_at": expires_at,
                            "failures": [_drop_none(failure.model_dump(mode="json")) for failure in failures]}
            items.append({"Put": {"TableName": self.table_name, "Item": _serialize(failure_item)}})
        try:
            _retrying_conflicts(lambda: aws.dynamodb_client().transact_write_items(TransactItems=items))
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException" \
                    and _cancellation_codes(error)[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def set_planned(self, task_id: str, name: str, value: int) -> None:
        """Set one of a dry run's planned numbers that is counted whole, not per chunk (the uploads it found)."""
        attribute = _planned_attribute(name)
        self._table.update_item(Key=task_key(task_id), UpdateExpression=f"SET {attribute} = :value",
                                ExpressionAttributeValues={":value": value})

    def claim_pass_end(self, task: Task, *, next_pass: bool) -> Task | None:
        """Whoever first sees a pass finished (listing done, every chunk counted) moves the task on, once."""
        condition = ("#status = :running AND phase = :listing AND pass_number = :pass AND listing_done = :yes "
                     "AND chunks_done = chunks_total")
        now = utc_now()
        values: dict[str, Any] = {":running": TaskStatus.RUNNING.value, ":listing": Phase.LISTING.value,
                                  ":pass": task.pass_number, ":yes": True, ":beat": iso(now), ":one": 1,
                                  ":now": now.isoformat()}
        if next_pass:
            fresh = ListingCursor(next_seq=task.cursor.next_seq)
            values.update({":next": task.pass_number + 1, ":no": False, ":zero": 0,
                           ":cursor": _drop_none(fresh.model_dump(mode="json"))})
            expression = ("SET pass_number = :next, listing_done = :no, pass_listed = :zero, #cursor = :cursor, "
                          "heartbeat_at = :beat, stepped_at = :now, version = version + :one")
        else:
            values[":finalizing"] = Phase.FINALIZING.value
            expression = ("SET phase = :finalizing, heartbeat_at = :beat, stepped_at = :now, "
                          "version = version + :one")
        names = {"#status": "status", "#cursor": "cursor"} if next_pass else {"#status": "status"}
        return self._update(task.id, expression, condition, values, names)

    def add_uploads_aborted(self, task_id: str, count: int) -> None:
        if count:
            self._table.update_item(Key=task_key(task_id), UpdateExpression="ADD uploads_aborted :n "
                                    "SET heartbeat_at = :beat", ExpressionAttributeValues={":n": count,
                                                                                         ":beat": iso(utc_now())})

    def finish(self, task: Task, status: TaskStatus, *, reason: str | None = None,
               bucket_empty_at_end: bool | None = None, bucket_deleted: bool = False) -> Task | None:
        """End an unfinished task (COMPLETED, FAILED or CANCELLED); None if it had already ended."""
        now = utc_now()
        values: dict[str, Any] = {":status": status.value, ":now": now.isoformat(), ":one": 1,
                                  ":expires": expiry_of(now, settings().task_retention_days),
                                  ":pending": TaskStatus.PENDING.value, ":running": TaskStatus.RUNNING.value,
                                  ":deleted": bucket_deleted}
        expression = ("SET #status = :status, finished_at = :now, expires_at = :expires, bucket_deleted = :deleted, "
                      "version = version + :one")
        if reason is not None:
            expression += ", last_error = :reason"
            values[":reason"] = reason
        if bucket_empty_at_end is not None:
            expression += ", bucket_empty_at_end = :empty"
            values[":empty"] = bucket_empty_at_end
        expression += " REMOVE active_status"
        finished = self._update(task.id, expression, "#status IN (:pending, :running)", values, {"#status": "status"})
        if finished is not None:
            self.release_locks(finished)
            events.task_state_changed(finished)
        return finished

    def record_resume(self, task: Task) -> Task | None:
        now = utc_now()
        return self._update(task.id, "SET resumes = resumes + :one, heartbeat_at = :beat, stepped_at = :now, "
                                     "version = version + :one",
                            "version = :version", {":one": 1, ":beat": iso(now), ":now": now.isoformat(),
                                                   ":version": task.version})

    # --- the active-tasks index -------------------------------------------------------------------------------------
    def active_task_ids(self, heartbeat_before: datetime | None = None) -> Iterator[str]:
        condition = Key("active_status").eq(ACTIVE)
        if heartbeat_before is not None:
            condition = condition & Key("heartbeat_at").lt(iso(heartbeat_before))
        kwargs: dict[str, Any] = {"IndexName": ACTIVE_INDEX, "KeyConditionExpression": condition}
        while True:
            page = self._table.query(**kwargs)
            for item in page["Items"]:
                yield str(item["pk"]).removeprefix("TASK#")
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
