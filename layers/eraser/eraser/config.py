"""All of Eraser's settings: one validated model, parsed from the environment once per process (cold start).

Each field is read from the upper-cased environment variable of its name (``TASKS_TABLE``, ``CHUNK_SIZE``); the
fields of a section are prefixed by the section's ``environment_prefix`` (``RATE_LIMIT_PURGE_BUCKET``). An empty
variable, as a template parameter left blank gives, means the default. Tests that change the environment call
``settings.cache_clear()``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, Field, PositiveInt, field_validator

SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


class EngineSettings(BaseModel):
    """The task engine's tunables (tests shrink pages to keep runs fast)."""

    environment_prefix: ClassVar[str] = ""

    # S3 returns at most 1000 entries per listing page.
    listing_page_size: int = Field(default=1000, ge=1, le=1000)
    # DeleteObjects accepts at most 1000 keys.
    chunk_size: int = Field(default=1000, ge=1, le=1000)
    # SQS messages are capped at 256 KiB (1 MiB on queues configured for it) and so is one SendMessageBatch call:
    # chunks are cut well under that, whatever the key lengths (a key may be 1024 bytes).
    max_message_bytes: int = Field(default=200_000, ge=10_000, le=250_000)
    # A listing step stops and hands over to the next message when less than this remains of its invocation.
    listing_step_reserve_ms: int = Field(default=30_000, ge=0)
    # Pages one listing step lists at most before handing over (bounds what a crashed step lists again).
    listing_pages_per_step: int = Field(default=50, ge=1)
    # The engine's own recursion guard (Lambda's loop detection is off for the lister: RecursiveLoop: Allow).
    max_listing_hops: int = Field(default=100_000, ge=1)
    # Verification sweeps after the first pass; a bucket still changing after this many fails instead of looping.
    max_passes: int = Field(default=10, ge=2)
    # In-process retries of keys DeleteObjects reported as retryable (SlowDown, InternalError) before giving up.
    key_retry_attempts: int = Field(default=5, ge=1)
    key_retry_base_seconds: float = Field(default=0.2, ge=0)
    failure_sample_size: int = Field(default=50, ge=1)
    # A running task whose heartbeat is older than this is stalled (longer than the listing queue's visibility
    # timeout, 720 s, so a message that is merely being retried is not mistaken for a dead worker).
    watchdog_stale_seconds: int = Field(default=900, ge=1)
    watchdog_max_resumes: int = Field(default=3, ge=1)
    # A listing or finalize step that nobody holds (no live claim) and that has not been claimed or saved for this
    # long was lost (its worker died after saving, or its message was lost): the watchdog sends it again. Longer than
    # the ListingFunction's 120 s timeout; a copy sent while the real message still waits in the queue is harmless.
    listing_stale_seconds: int = Field(default=180, ge=1)


class RateLimitSettings(BaseModel):
    """Requests per minute per credential on the endpoints that create tasks, one field per
    ``eraser.ratelimit.LimitedOperation`` (named by its value)."""

    environment_prefix: ClassVar[str] = "RATE_LIMIT_"

    purge_all_trash: PositiveInt = 5
    purge_bucket: PositiveInt = 10
    delete_bucket: PositiveInt = 10
    bulk_delete_task: PositiveInt = 30

    @field_validator("*", mode="before")
    @classmethod
    def _digits_only(cls, value: Any) -> Any:
        # A limit is a count: "1e3", "5.0" or "-0" are refused rather than read as some number.
        if isinstance(value, str) and not value.strip().isdigit():
            raise ValueError(f"must be a positive integer, not {value!r}")
        return value


class Settings(BaseModel):
    stage: str = "local"
    tenancy_table: str = "eraser-tenancy"
    credentials_table: str = "eraser-credentials"
    tasks_table: str = "eraser-deletion-tasks"
    idempotency_table: str = "eraser-idempotency"
    rate_limits_table: str = "eraser-rate-limits"
    listing_queue_url: str = ""
    deletion_queue_url: str = ""
    # HS256 secret for JWT bearer tokens; empty means JWTs are refused.
    jwt_secret: str = ""
    # The KMS key (id, ARN or alias) that encrypts S3 clients' secret access keys; empty: S3 keys cannot be issued.
    s3_secrets_key: str = ""
    # The region S3 clients sign for (the scope of their SigV4 signatures): the deployment's region.
    s3_signing_region: str = "us-east-1"
    # How many objects one synchronous bulk-delete request may delete. API Gateway REST cuts a request at 29 s;
    # DeleteObjects runs at thousands of keys per second, so 10,000 keys (10 calls) leaves a wide margin.
    sync_delete_limit: int = Field(default=10_000, ge=1)
    # Finished tasks are kept this long (DynamoDB TTL), at least 30 days as the polling contract promises.
    task_retention_days: int = Field(default=30, ge=30)
    # How long the purge endpoint waits for a small purge to finish before answering with a running task.
    purge_wait_seconds: float = Field(default=0.0, ge=0, le=20)
    # The stage's receipts bucket (task manifests and summaries, audit records of synchronous deletions); empty:
    # no receipt is written.
    receipts_bucket: str = ""
    # The EventBridge bus task state changes are published on; empty: no event is published.
    event_bus_name: str = ""
    engine: EngineSettings = EngineSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()


def from_environment(model: type[SettingsModel], environment: Mapping[str, str] | None = None,
                     prefix: str = "") -> SettingsModel:
    """``model`` with each field taken from the environment variable ``prefix`` + its upper-cased name, when set and
    not empty; a field that is itself a section (a model with an ``environment_prefix``) is read the same way with
    that prefix."""
    environment = os.environ if environment is None else environment
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            values[name] = from_environment(section, environment, getattr(section, "environment_prefix", ""))
        elif environment.get(prefix + name.upper(), "") != "":
            values[name] = environment[prefix + name.upper()]
    return model.model_validate(values)


@functools.cache
def settings() -> Settings:
    return from_environment(Settings)


def engine_settings() -> EngineSettings:
    """The task engine's section of ``settings()``."""
    return settings().engine
