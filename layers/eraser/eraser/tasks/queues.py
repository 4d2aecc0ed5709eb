"""The engine's two queues: listing steps (LISTING_QUEUE_URL) and batches of keys to delete (DELETION_QUEUE_URL)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from eraser import aws
from eraser.config import engine_settings, settings
from eraser.errors import TaskQueueingError
from eraser.storage.gateway import ListedVersion
from eraser.tasks.model import ChunkEntry, ChunkMessage, ListingMessage

# SendMessageBatch takes at most 10 messages and, like one message, at most 256 KiB in all.
_BATCH_ENTRIES = 10
_BATCH_BYTES = 250_000
_SEND_ATTEMPTS = 3


def send_listing_step(message: ListingMessage) -> None:
    try:
        aws.sqs().send_message(QueueUrl=settings().listing_queue_url, MessageBody=message.model_dump_json())
    except (ClientError, BotoCoreError) as error:
        raise TaskQueueingError(str(error)) from error


def cut_chunks(task_id: str, target_index: int, pass_number: int, versions: Iterable[ListedVersion],
               first_seq: int, *, with_version_ids: bool = True, described: bool = False) -> list[ChunkMessage]:
    """Cut versions into chunks of at most ``chunk_size`` keys (one DeleteObjects call) whose message stays under
    ``max_message_bytes`` however long the keys are. Sequence numbers continue from ``first_seq``. ``described``
    (a dry run) keeps whether each entry is a delete marker and its key's current entry."""
    tuning = engine_settings()
    chunks: list[ChunkMessage] = []
    entries: list[ChunkEntry] = []
    size = 0
    for version in versions:
        entry = ChunkEntry(k=version.key, v=version.version_id if with_version_ids else None, s=version.size)
        if described:
            entry.m = version.is_delete_marker or None
            entry.c = version.is_latest or None
        entry_size = len(entry.model_dump_json(exclude_none=True).encode("utf-8")) + 1
        if entries and (len(entries) >= tuning.chunk_size or size + entry_size > tuning.max_message_bytes - 500):
            chunks.append(ChunkMessage(task_id=task_id, seq=first_seq + len(chunks), target_index=target_index,
                                       pass_number=pass_number, entries=entries))
            entries, size = [], 0
        entries.append(entry)
        size += entry_size
    if entries:
        chunks.append(ChunkMessage(task_id=task_id, seq=first_seq + len(chunks), target_index=target_index,
                                   pass_number=pass_number, entries=entries))
    return chunks


def _batches(bodies: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    total = 0
    for entry_id, body in bodies:
        length = len(body.encode("utf-8"))
        if batch and (len(batch) >= _BATCH_ENTRIES or total + length > _BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append((entry_id, body))
        total += length
    if batch:
        yield batch


def send_chunks(chunks: list[ChunkMessage]) -> None:
    """Enqueue chunks with SendMessageBatch, retrying entries SQS reports as failed."""
    bodies = [(str(chunk.seq), chunk.model_dump_json(exclude_none=True)) for chunk in chunks]
    for batch in _batches(bodies):
        pending: list[dict[str, Any]] = [{"Id": entry_id, "MessageBody": body} for entry_id, body in batch]
        for _ in range(_SEND_ATTEMPTS):
            try:
                answer = aws.sqs().send_message_batch(QueueUrl=settings().deletion_queue_url, Entries=pending)
            except (ClientError, BotoCoreError) as error:
                raise TaskQueueingError(str(error)) from error
            failed = {item["Id"] for item in answer.get("Failed", [])}
            pending = [entry for entry in pending if entry["Id"] in failed]
            if not pending:
                break
        if pending:
            raise TaskQueueingError(json.dumps([entry["Id"] for entry in pending]))
