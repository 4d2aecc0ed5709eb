"""The engine's tunables, read from the environment once per process (tests shrink pages to keep runs fast)."""

from __future__ import annotations

import functools

from pydantic import BaseModel, Field

from eraser.config import from_environment


class EngineSettings(BaseModel):
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


@functools.cache
def engine_settings() -> EngineSettings:
    return from_environment(EngineSettings)
