"""What the bucket routes do: purge a bucket (quiva.ai) and delete a bucket (Mixpeek), each as a task.

Creating a task honours an ``Idempotency-Key`` (Powertools idempotency on the IdempotencyTable): the same key with
the same request returns the task the first request created; the same key with a different request is refused. The
task-creation rate limit is enforced where the task is created, inside the idempotent call: a replayed key answers
with its task without counting again, and a refused creation leaves no idempotency record behind.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from eraser import aws
from eraser.auth import Principal
from eraser.config import settings
from eraser.errors import Conflict, IdempotencyKeyReused, ValidationFailed
from eraser.operations.tasks import DryRun, preview
from eraser.ratelimit import LimitedOperation, enforce_rate_limit
from eraser.storage import gateway
from eraser.storage.retries import Deadline as Deadline  # handlers bound their work with it (Deadline.of)
from eraser.tasks.engine import create_task
from eraser.tasks.model import Selection, Task, TaskKind
from eraser.tasks.repository import TaskRepository
from eraser.tenancy import TenancyRepository

# Idempotency keys are remembered this long (a client retrying a day later still gets its task back).
IDEMPOTENCY_SECONDS = 24 * 3600
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# 1 to 255 printable ASCII characters, spaces only inside: what an HTTP field value can be once HTTP has dropped the
# whitespace around it (RFC 9110 5.5; non-ASCII octets are obsolete there). openapi/eraser.yaml states the same
# pattern; tests hold the two together.
IDEMPOTENCY_KEY_PATTERN = re.compile(rf"[!-~](?:[ -~]{{0,{MAX_IDEMPOTENCY_KEY_LENGTH - 2}}}[!-~])?")
# Mixpeek's object_count at submit time: counted with at most one ListObjectsV2 call; above this it is null.
OBJECT_COUNT_CAP = 1000
_WAIT_POLL_SECONDS = 0.25

StartTask = Callable[[], Task]


def submit_purge(principal: Principal, bucket_identifier: str, *, idempotency_key: str | None = None,
                 lambda_context: Any = None) -> Task:
    """Start (or join) the purge of a bucket; wait up to ``purge_wait_seconds`` for a small one to finish."""
    bucket = TenancyRepository().find_bucket(principal.organization.id, bucket_identifier)

    def start() -> Task:
        enforce_rate_limit(LimitedOperation.PURGE_BUCKET, principal)
        return create_task(principal.organization, TaskKind.PURGE_BUCKET, [bucket], principal.subject,
                           exclusive=True)

    task = _once(principal, idempotency_key, {"operation": "purge_bucket", "bucket_id": bucket.id}, start,
                 lambda_context)
    return _wait_for(task, settings().purge_wait_seconds)


def submit_bucket_deletion(principal: Principal, bucket_identifier: str, *, idempotency_key: str | None = None,
                           lambda_context: Any = None) -> Task:
    """Start (or join) the deletion of a bucket and everything in it; answers at once."""
    bucket = TenancyRepository().find_bucket(principal.organization.id, bucket_identifier)

    def start() -> Task:
        enforce_rate_limit(LimitedOperation.DELETE_BUCKET, principal)
        s3 = gateway.open_bucket(bucket.s3_bucket, principal.organization.account_id)
        object_count = s3.count_current_objects(cap=OBJECT_COUNT_CAP)
        return create_task(principal.organization, TaskKind.DELETE_BUCKET, [bucket], principal.subject,
                           exclusive=True, object_count=object_count)

    return _once(principal, idempotency_key, {"operation": "delete_bucket", "bucket_id": bucket.id}, start,
                 lambda_context)


def preview_purge(principal: Principal, bucket_identifier: str, *, deadline: Deadline,
                  idempotency_key: str | None = None) -> DryRun:
    """What purging the bucket would do now (``dry_run=true``): authorised and rate-limited as the purge; never
    remembered under an Idempotency-Key, so a later real request with the same key is not taken for it."""
    ensure_valid_idempotency_key(idempotency_key)
    bucket = TenancyRepository().find_bucket(principal.organization.id, bucket_identifier)
    enforce_rate_limit(LimitedOperation.PURGE_BUCKET, principal)
    return preview(principal.organization, TaskKind.PURGE_BUCKET, [bucket], Selection.everything(),
                   principal.subject, deadline=deadline)


def preview_bucket_deletion(principal: Principal, bucket_identifier: str, *, deadline: Deadline,
                  idempotency_key: str | None = None) -> DryRun:
    """What deleting the bucket would do now: everything in it, and whether the bucket itself would go."""
    ensure_valid_idempotency_key(idempotency_key)
    bucket = TenancyRepository().find_bucket(principal.organization.id, bucket_identifier)
    enforce_rate_limit(LimitedOperation.DELETE_BUCKET, principal)
    return preview(principal.organization, TaskKind.DELETE_BUCKET, [bucket], Selection.everything(),
                   principal.subject, deadline=deadline)


@dataclass(frozen=True)
class _IdempotentCreation:
    config: IdempotencyConfig
    create: Callable[..., dict[str, str]]


@functools.cache
def _idempotent_creation(table_name: str, client: Any) -> _IdempotentCreation:
    """The idempotent task creation, built once per table and DynamoDB client (once per process in Lambda; again
    only when tests switch clients)."""
    config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="fingerprint",
                               raise_on_no_idempotency_key=True, expires_after_seconds=IDEMPOTENCY_SECONDS)
    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)

    # The prefix is shared by every task-creating endpoint: a key reused on another endpoint is a different request.
    # Only ``request`` is hashed and validated; ``start`` is the call that creates the task.
    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config,
                         key_prefix="eraser-task")
    def create(request: dict[str, Any], start: StartTask) -> dict[str, str]:
        return {"task_id": start().id}

    return _IdempotentCreation(config, create)


def _once(principal: Principal, idempotency_key: str | None, fingerprint: dict[str, str], start: StartTask,
          lambda_context: Any) -> Task:
    if idempotency_key is None:
        return start()
    key = idempotency_key
    ensure_valid_idempotency_key(key)
    creation = _idempotent_creation(settings().idempotency_table, aws.dynamodb_client())
    if lambda_context is not None:
        creation.config.register_lambda_context(lambda_context)
    request = {"key": f"{principal.organization.id}:{key}", "fingerprint": fingerprint}
    try:
        created = creation.create(request=request, start=start)
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReused() from error
    except IdempotencyAlreadyInProgressError as error:
        raise Conflict("A request with this Idempotency-Key is still being processed") from error
    return TaskRepository().get(created["task_id"])


def ensure_valid_idempotency_key(key: str | None) -> None:
    """Refuse a malformed Idempotency-Key before anything is started (a dry run refuses it too, as the request
    would, though it does not remember the key)."""
    if key is not None and IDEMPOTENCY_KEY_PATTERN.fullmatch(key) is None:
        raise ValidationFailed("Idempotency-Key must be 1 to 255 printable ASCII characters, spaces only inside",
                               [{"loc": ["header", "idempotency-key"], "msg": "Invalid Idempotency-Key",
                                 "type": "value_error"}])


def _wait_for(task: Task, seconds: float) -> Task:
    deadline = time.monotonic() + seconds
    repository = TaskRepository()
    while not task.is_finished and time.monotonic() < deadline:
        time.sleep(_WAIT_POLL_SECONDS)
        task = repository.get(task.id)
    return task
