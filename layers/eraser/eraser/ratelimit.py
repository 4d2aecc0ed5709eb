"""Per-credential rate limits on the endpoints that create tasks.

A fixed one-minute window per (operation, credential): one DynamoDB item per window, counted by a conditional
``UpdateItem`` (``ADD hits :one`` only while ``hits < limit``), so the limit holds across every Lambda instance and
needs no read-modify-write. The window is part of the key, so a new minute starts from zero without a reset; old
items expire through the table's TTL (``expires_at``), which DynamoDB applies lazily (within days), hence never
relied upon for correctness.

Limits are requests per minute per credential, overridable per operation with ``RATE_LIMIT_<OPERATION>`` (for
example ``RATE_LIMIT_PURGE_ALL_TRASH=5``), read with the other settings (``eraser.config.RateLimitSettings``).
Handlers call ``enforce_rate_limit(operation, principal)`` after authentication and before any work.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from enum import StrEnum

from botocore.exceptions import ClientError

from eraser import aws
from eraser.auth import Principal
from eraser.config import RateLimitSettings, settings
from eraser.errors import RateLimited, ServiceUnavailable
from eraser.observability import logger

WINDOW_SECONDS = 60
# DynamoDB allows 2048 bytes of partition key; a JWT ``sub`` is the caller's choice, so long ones are hashed.
_LONGEST_CLEAR_CREDENTIAL = 200


def wall_clock() -> float:
    """Seconds since the epoch (tests replace this module attribute to freeze the windows of every limiter)."""
    return time.time()


class LimitedOperation(StrEnum):
    PURGE_ALL_TRASH = "purge_all_trash"
    PURGE_BUCKET = "purge_bucket"
    DELETE_BUCKET = "delete_bucket"
    BULK_DELETE_TASK = "bulk_delete_task"


def limits_of(rate_limits: RateLimitSettings) -> dict[LimitedOperation, int]:
    """The limit of each operation, from the settings' field of the same name."""
    return {operation: getattr(rate_limits, operation.value) for operation in LimitedOperation}


DEFAULT_LIMITS_PER_MINUTE: Mapping[LimitedOperation, int] = limits_of(RateLimitSettings())


class RateLimiter:
    """Counts requests per credential in fixed windows stored in the rate-limits table."""

    def __init__(self, table_name: str | None = None, *, clock: Callable[[], float] | None = None,
                 limits: Mapping[LimitedOperation, int] | None = None) -> None:
        self._table = aws.table(table_name or settings().rate_limits_table)
        self._clock = clock or wall_clock
        self._limits = dict(limits) if limits is not None else limits_of(settings().rate_limits)

    def limit_of(self, operation: LimitedOperation) -> int:
        return self._limits[operation]

    def hit(self, operation: LimitedOperation, credential_id: str) -> int:
        """Count one request; raise ``RateLimited`` when the window already holds ``limit`` of them. Returns how many
        requests the window holds now."""
        limit = self._limits[operation]
        now = self._clock()
        window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        window_end = window_start + WINDOW_SECONDS
        try:
            result = self._table.update_item(
                Key={"pk": f"RATE#{operation.value}#{_credential_key(credential_id)}#{window_start}"},
                UpdateExpression="ADD hits :one SET expires_at = :expires_at, window_start = :window_start",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires_at": window_end + WINDOW_SECONDS,
                                           ":window_start": window_start},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise RateLimited(total_permitted=limit, retry_after=max(1, math.ceil(window_end - now))) from error
            # Failing closed: a deletion service that cannot count should not create unbounded work.
            logger.exception("Rate limit table unavailable", extra={"operation": operation.value})
            raise ServiceUnavailable() from error
        return int(result["Attributes"]["hits"])


def _credential_key(credential_id: str) -> str:
    if len(credential_id) <= _LONGEST_CLEAR_CREDENTIAL:
        return credential_id
    return "sha256:" + hashlib.sha256(credential_id.encode("utf-8")).hexdigest()


def enforce_rate_limit(operation: LimitedOperation, principal: Principal, limiter: RateLimiter | None = None) -> None:
    """The one call a task-creating handler makes: count this request against the caller's credential."""
    (limiter or RateLimiter()).hit(operation, principal.credential_id)
