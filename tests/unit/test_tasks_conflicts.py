"""DynamoDB refuses a write on an item another transaction is writing (TransactionConflictException, or a
transaction's TransactionConflict reason): the repository tries the write again instead of failing the listing step
or the chunk until its message's visibility timeout ends (the scale model, bench/scale, shows what waiting costs).
moto never conflicts, so each test makes the client conflict a chosen number of times and checks the task
record afterwards."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from eraser import aws
from eraser.storage import retries
from eraser.tasks import engine, repository
from eraser.tasks.model import ChunkEntry, ChunkMessage, TaskKind, TaskStatus
from eraser.tasks.repository import CONFLICT_ATTEMPTS, TaskRepository


def transaction_conflict() -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                        "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems")


def write_conflict() -> ClientError:
    return ClientError({"Error": {"Code": "TransactionConflictException",
                                  "Message": "Operation was rejected because there is an ongoing transaction"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateItem")


class Conflicting:
    """A boto3 client or table whose ``operation`` first raises ``conflicts`` errors, then works."""

    def __init__(self, real: Any, operation: str, error: ClientError, conflicts: int) -> None:
        self.real, self.operation, self.error, self.left = real, operation, error, conflicts

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if name != self.operation:
            return attribute

        def call(**arguments: Any) -> Any:
            if self.left:
                self.left -= 1
                raise self.error
            return attribute(**arguments)

        return call


@pytest.fixture
def waits(task, monkeypatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(retries, "wait", recorded.append)
    return recorded


@pytest.fixture
def task(tenant):
    return engine.create_task(tenant.organization, TaskKind.PURGE_BUCKET, [tenant.bucket], "test")


def chunk_of(task, seq: int = 0, keys: int = 3) -> ChunkMessage:
    return ChunkMessage(task_id=task.id, seq=seq, target_index=0, pass_number=task.pass_number,
                        entries=[ChunkEntry(k=f"k{index}", s=10) for index in range(keys)])


def test_a_chunk_whose_transaction_conflicts_is_counted_once_after_retrying(task, monkeypatch, waits) -> None:
    conflicting = Conflicting(aws.dynamodb_client(), "transact_write_items", transaction_conflict(), 2)
    monkeypatch.setattr(aws, "dynamodb_client", lambda: conflicting)
    counted = TaskRepository().record_chunk(chunk_of(task), deleted=3, failed=0, bytes_freed=30, failures=[])
    assert counted is True
    assert len(waits) == 2
    stored = TaskRepository().get(task.id)
    assert stored.counts.deleted == 3 and stored.counts.chunks_done == 1
    # The same chunk again is a duplicate: not counted twice.
    assert TaskRepository().record_chunk(chunk_of(task), deleted=3, failed=0, bytes_freed=30, failures=[]) is False
    assert TaskRepository().get(task.id).counts.deleted == 3


def test_a_cursor_write_that_conflicts_is_written_after_retrying(task, monkeypatch, waits) -> None:
    conflicting = Conflicting(aws.table(TaskRepository().table_name), "update_item", write_conflict(), 1)
    monkeypatch.setattr(repository.aws, "table", lambda name: conflicting)
    started = TaskRepository().start(task.id)
    assert started is not None and started.status is TaskStatus.RUNNING
    assert TaskRepository().get(task.id).status is TaskStatus.RUNNING
    assert len(waits) == 1


def test_conflicts_that_do_not_stop_are_raised(task, monkeypatch, waits) -> None:
    conflicting = Conflicting(aws.dynamodb_client(), "transact_write_items", transaction_conflict(),
                              CONFLICT_ATTEMPTS)
    monkeypatch.setattr(aws, "dynamodb_client", lambda: conflicting)
    with pytest.raises(ClientError):
        TaskRepository().record_chunk(chunk_of(task), deleted=3, failed=0, bytes_freed=30, failures=[])
    assert len(waits) == CONFLICT_ATTEMPTS - 1
    assert TaskRepository().get(task.id).counts.deleted == 0


def test_other_errors_are_not_retried(task, monkeypatch, waits) -> None:
    other = ClientError({"Error": {"Code": "ValidationException", "Message": "no"},
                         "ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems")
    conflicting = Conflicting(aws.dynamodb_client(), "transact_write_items", other, 1)
    monkeypatch.setattr(aws, "dynamodb_client", lambda: conflicting)
    with pytest.raises(ClientError):
        TaskRepository().record_chunk(chunk_of(task), deleted=3, failed=0, bytes_freed=30, failures=[])
    assert waits == []
