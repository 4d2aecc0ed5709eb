"""Settings, parsed from the environment once per process (cold start) and validated."""

from __future__ import annotations

import functools
import os
from typing import TypeVar

from pydantic import BaseModel, Field

SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def from_environment(model: type[SettingsModel]) -> SettingsModel:
    """``model`` with each field taken from the upper-cased environment variable of its name, when set and not
    empty (an empty variable, as a template parameter left blank gives, means the default)."""
    values = {name: os.environ[name.upper()] for name in model.model_fields if os.environ.get(name.upper(), "") != ""}
    return model.model_validate(values)


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


@functools.cache
def settings() -> Settings:
    return from_environment(Settings)
