"""Proof of deletion: a task's receipt (one manifest part per chunk, a summary when it ends) and the audit record of
each synchronous deletion, in the stage's receipts bucket (see docs/receipts.md).

Layout of the bucket:
- ``receipts/<task id>/parts/<seq>.jsonl.gz``: gzip JSON Lines, one line per version a chunk removed or could not
  remove, written once per chunk (a redelivered chunk finds its part and is counted from it);
- ``receipts/<task id>/summary.json``: written once when the task ends;
- ``audit/<yyyy>/<mm>/<dd>/<request id>.json.gz``: one synchronous DeleteObject or bulk delete request.

Imported by the task engine's repository and worker as a module (``from eraser import receipts``): this module reads
the tasks table's ``CHUNK#`` records itself and never imports the engine, so neither import order cycles.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from boto3.dynamodb.conditions import Key

from eraser import aws
from eraser.clock import new_id, utc_now
from eraser.config import settings
from eraser.errors import NotFound, TaskRunning
from eraser.observability import logger, metrics
from eraser.storage.outcomes import Outcome, of_deleted
from eraser.storage.receipt_store import PRESIGNED_SECONDS, ReceiptStore
from eraser.tasks.model import ChunkEntry, ChunkMessage, KeyFailure, Task, Trigger

if TYPE_CHECKING:
    from eraser.storage.objects import DeleteObjectRequest, DeleteObjectResult
    from eraser.tenancy import Bucket

PART_CONTENT_TYPE = "application/gzip"
SUMMARY_CONTENT_TYPE = "application/json"
# Outcomes that removed something: what the task counts as deleted (and as bytes freed).
REMOVING_OUTCOMES = frozenset({Outcome.DELETED.value, Outcome.DELETE_MARKER_CREATED.value})


def part_key(task_id: str, seq: int) -> str:
    return f"receipts/{task_id}/parts/{seq:08d}.jsonl.gz"


def summary_key(task_id: str) -> str:
    return f"receipts/{task_id}/summary.json"


def audit_key(request_id: str, moment: datetime) -> str:
    return f"audit/{moment:%Y/%m/%d}/{request_id}.json.gz"


def receipt_path(task: Task) -> str | None:
    """The receipt route of a finished task (the route writes a summary its task's end could not), else None."""
    if not task.is_finished or not settings().receipts_bucket:
        return None
    return f"/v1/tasks/{task.id}/receipt"


# --- who and why ----------------------------------------------------------------------------------------------------
def actor_of(requested_by: str) -> dict[str, str]:
    """Who asked, from a task's ``requested_by`` (a principal's subject): ids only, never a secret."""
    kind, _, rest = requested_by.partition(":")
    if kind == "key":
        return {"type": "api_key", "id": rest}
    if kind == "s3key":
        return {"type": "s3_key", "id": rest}
    if kind == "schedule":
        return {"type": "schedule", "id": requested_by}
    return {"type": "jwt", "id": requested_by}


def trigger_now(requested_by: str) -> Trigger | None:
    """What starts a task created now: a schedule run, else the API request being served (Powertools' correlation
    id, API Gateway's ``requestContext.requestId`` in every API function)."""
    if requested_by.startswith("schedule:"):
        return Trigger(type="schedule", id=requested_by)
    request_id = logger.get_correlation_id()
    return Trigger(type="api_request", id=str(request_id)) if request_id else None


# --- manifest parts -------------------------------------------------------------------------------------------------
def encode_lines(lines: list[dict[str, Any]]) -> bytes:
    text = "".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines)
    # mtime=0: the same lines give the same bytes, hence the same SHA-256.
    return gzip.compress(text.encode("utf-8"), mtime=0)


def decode_lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).decode("utf-8").splitlines() if line]


@dataclass(frozen=True)
class PartRecord:
    """A written part, as the chunk's record keeps it: the summary lists parts without reading them again."""

    key: str
    sha256: str
    lines: int
    outcomes: dict[str, int] = field(default_factory=dict)

    def as_item(self) -> dict[str, Any]:
        return {"receipt_key": self.key, "receipt_sha256": self.sha256, "receipt_lines": self.lines,
                "receipt_outcomes": self.outcomes}

    @classmethod
    def of_item(cls, item: dict[str, Any]) -> PartRecord:
        return cls(key=str(item["receipt_key"]), sha256=str(item["receipt_sha256"]),
                   lines=int(item["receipt_lines"]),
                   outcomes={name: int(count) for name, count in item.get("receipt_outcomes", {}).items()})


@dataclass(frozen=True)
class EntryResult:
    """One entry of a chunk and its outcome (the deletion loop's), with S3's refusal when it was not removed."""

    entry: ChunkEntry
    outcome: Outcome
    failure: KeyFailure | None = None


@dataclass(frozen=True)
class ChunkPart:
    """What a chunk counts: taken from its part as stored, so the manifest and the task's counts always agree."""

    deleted: int
    failed: int
    bytes_freed: int
    failures: list[KeyFailure]
    # Lines per outcome: what the chunk adds to the task's ``counts.outcomes``.
    outcomes: dict[str, int]
    record: PartRecord | None


def write_chunk_part(task: Task, chunk: ChunkMessage, results: list[EntryResult]) -> ChunkPart:
    """Write the chunk's part once. When an earlier delivery of the chunk already wrote it (and died before
    counting), that part is read back and counted instead of this delivery's answer."""
    lines = chunk_lines(task, chunk, results)
    bucket = settings().receipts_bucket
    if not bucket:
        return _counted(lines, None)
    store = ReceiptStore(bucket)
    key = part_key(task.id, chunk.seq)
    body = encode_lines(lines)
    if not store.put_once(key, body, PART_CONTENT_TYPE):
        stored = store.get(key)
        if stored is None:
            raise RuntimeError(f"receipt part {key} was refused as existing but cannot be read")
        body, lines = stored, decode_lines(stored)
        logger.info("Chunk counted from the part an earlier delivery wrote", extra={"task_id": task.id,
                                                                                    "seq": chunk.seq})
    return _counted(lines, PartRecord(key=key, sha256=hashlib.sha256(body).hexdigest(), lines=len(lines),
                                      outcomes=dict(Counter(line["outcome"] for line in lines))))


def chunk_lines(task: Task, chunk: ChunkMessage, results: list[EntryResult]) -> list[dict[str, Any]]:
    target = task.targets[chunk.target_index]
    now = utc_now().isoformat()
    common = {"bucket": target.s3_bucket, "bucket_id": target.bucket_id, "chunk": chunk.seq, "time": now}
    lines: list[dict[str, Any]] = []
    for result in results:
        entry, failure = result.entry, result.failure
        line = {"key": entry.k, "version_id": entry.v or None, "size": entry.s, "etag": entry.e,
                "outcome": result.outcome.value, **common}
        if failure is not None:
            line.update(code=failure.code, message=failure.message)
        lines.append(line)
    return lines


def _counted(lines: list[dict[str, Any]], record: PartRecord | None) -> ChunkPart:
    removed = [line for line in lines if line["outcome"] in REMOVING_OUTCOMES]
    failures = [KeyFailure(key=line["key"], version_id=line["version_id"], code=line.get("code") or line["outcome"],
                           message=line.get("message") or "", outcome=Outcome(line["outcome"]))
                for line in lines if line["outcome"] not in REMOVING_OUTCOMES]
    return ChunkPart(deleted=len(removed), failed=len(failures), bytes_freed=sum(line["size"] for line in removed),
                     failures=failures, outcomes=dict(Counter(line["outcome"] for line in lines)), record=record)


# --- the summary ----------------------------------------------------------------------------------------------------
def part_records(task_id: str) -> list[PartRecord]:
    """The parts of a task, in chunk order, from the ``CHUNK#`` records that counted them."""
    table = aws.table(settings().tasks_table)
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"TASK#{task_id}")
                              & Key("sk").begins_with("CHUNK#"), "ConsistentRead": True}
    records: list[PartRecord] = []
    while True:
        page = table.query(**kwargs)
        records += [PartRecord.of_item(item) for item in page["Items"] if "receipt_key" in item]
        if "LastEvaluatedKey" not in page:
            return records
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def summary_of(task: Task, parts: list[PartRecord]) -> dict[str, Any]:
    """A finished task's summary. Its outcome counts are the task's ``counts.outcomes``, added in the transaction
    that records each chunk with its part, so they equal the parts' lines per outcome. A dry run deleted nothing:
    no part, nothing counted (what it predicted is its plan, on the task)."""
    outcomes = {} if task.is_dry_run else {name: count for name, count in task.counts.outcomes.items() if count}
    summary: dict[str, Any] = {
        "task_id": task.id,
        "kind": task.kind.value,
        "status": task.status.value,
        "organization_id": task.organization_id,
        "targets": [{"bucket_id": target.bucket_id, "bucket_name": target.bucket_name} for target in task.targets],
        "selection": task.selection.model_dump(mode="json"),
        "actor": actor_of(task.requested_by),
        "trigger": task.trigger.model_dump() if task.trigger else None,
        "created_at": task.created_at.isoformat(),
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "finished_at": task.finished_at.isoformat() if task.finished_at else None,
        "error_message": task.last_error,
        "counts": {"outcomes": outcomes, "bytes": task.counts.bytes_freed,
                   "lines": sum(part.lines for part in parts), "deleted": task.counts.deleted,
                   "failed": task.counts.failed, "uploads_aborted": task.counts.uploads_aborted},
        "parts": [{"key": part.key, "sha256": part.sha256, "lines": part.lines} for part in parts],
    }
    if task.is_dry_run:
        summary["previews"] = task.acts_as.value
    return summary


def write_summary(task: Task) -> str | None:
    """Write a finished task's summary once; its key, or None when receipts are off."""
    bucket = settings().receipts_bucket
    if not bucket or not task.is_finished:
        return None
    key = summary_key(task.id)
    body = json.dumps(summary_of(task, part_records(task.id)), indent=2).encode("utf-8")
    ReceiptStore(bucket).put_once(key, body, SUMMARY_CONTENT_TYPE)
    return key


# --- the receipt route ----------------------------------------------------------------------------------------------
def read_receipt(task: Task) -> dict[str, Any]:
    """The summary and pre-signed URLs of a task's receipt (the caller checked the task's organization)."""
    if not task.is_finished:
        raise TaskRunning(task.id)
    bucket = settings().receipts_bucket
    if not bucket:
        raise NotFound("Receipts are not enabled on this deployment", task_id=task.id)
    store = ReceiptStore(bucket)
    key = summary_key(task.id)
    body = store.get(key)
    if body is None:
        # The task's end could not write it (S3 failed then): its records are still there to write it from.
        write_summary(task)
        body = store.get(key)
        assert body is not None
    summary = json.loads(body)
    return {
        "task_id": task.id,
        "summary": summary,
        "summary_url": store.presigned_get(key),
        "parts": [{**part, "url": store.presigned_get(part["key"])} for part in summary["parts"]],
        "expires_in": PRESIGNED_SECONDS,
    }


# --- audit records of synchronous deletions -------------------------------------------------------------------------
def audit_object_deletion(actor: str, bucket: Bucket, request: DeleteObjectRequest,
                          result: DeleteObjectResult) -> None:
    outcome = of_deleted(by_version=request.version_id is not None, delete_marker=result.delete_marker)
    write_audit("delete_object", actor, bucket, [audit_line(request.key, result.version_id, outcome)])


def audit_line(key: str, version_id: str | None, outcome: Outcome, *, code: str | None = None,
               message: str | None = None) -> dict[str, Any]:
    """One entry of an audit record: S3's code and message only for an entry that was not removed."""
    line: dict[str, Any] = {"key": key, "version_id": version_id, "outcome": outcome.value}
    if code is not None:
        line.update(code=code, message=message or "")
    return line


def write_audit(operation: str, actor: str, bucket: Bucket, lines: list[dict[str, Any]], *,
                task_id: str | None = None) -> None:
    """One synchronous request's record. S3 already answered: a record that cannot be written is logged and
    counted (metric ``AuditRecordsNotWritten``), never turned into a failure of the deletion."""
    receipts_bucket = settings().receipts_bucket
    if not receipts_bucket:
        return
    now = utc_now()
    request_id = str(logger.get_correlation_id() or new_id("req"))
    record = {"operation": operation, "request_id": request_id, "actor": actor_of(actor), "time": now.isoformat(),
              "organization_id": bucket.organization_id, "bucket_id": bucket.id, "bucket_name": bucket.name,
              "bucket": bucket.s3_bucket, "task_id": task_id, "entries": lines}
    body = gzip.compress(json.dumps(record, ensure_ascii=False).encode("utf-8"), mtime=0)
    try:
        ReceiptStore(receipts_bucket).put_once(audit_key(request_id, now), body, PART_CONTENT_TYPE)
    except Exception:  # noqa: BLE001 - see the docstring: the deletion stands whatever happens to its record
        logger.exception("Audit record not written", extra={"request_id": request_id, "bucket_id": bucket.id})
        metrics.add_metric(name="AuditRecordsNotWritten", unit=MetricUnit.Count, value=1)
