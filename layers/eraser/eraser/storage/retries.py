"""What is worth retrying when S3 deletes, and how long to wait: the one place that says which S3 codes are
transient, for a key inside a DeleteObjects answer (``is_retryable``) and for a whole call (``retryable_code``).

DeleteObjects answers 200 with per-key ``<Error>`` entries; botocore retries whole calls, never single keys, so the
deletion loop (``storage.deletion``) retries the keys itself, for bulk delete, the S3 route and the task worker alike.

Synchronous requests also bound every retry by the time their invocation has left (``Deadline``); the gateway
(``storage.gateway.call_before``) applies these to each S3 call.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Per-key or per-call codes that say "try again": S3 throttled (SlowDown 503), failed internally, or timed out.
# Anything else (AccessDenied under Object Lock or a policy, NoSuchBucket...) does not change by retrying.
RETRYABLE_ERRORS = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
                              "OperationAborted", "Throttling", "ThrottlingException"})


# A whole call's error may carry no code but its HTTP status: a HEAD has no body, and botocore names the code of an
# empty 500 or 503 body by the status itself ("503").
RETRYABLE_STATUSES = {503: "SlowDown", 500: "InternalError"}


def is_retryable(code: str) -> bool:
    return code in RETRYABLE_ERRORS


def full_jitter(retry_number: int, base_seconds: float, cap_seconds: float) -> float:
    """Seconds to wait before retry ``retry_number`` (0-based): exponential backoff with full jitter (AWS
    Architecture Blog, "Exponential Backoff And Jitter")."""
    return random.uniform(0, min(cap_seconds, base_seconds * 2**retry_number))


# --- the time an invocation has left -------------------------------------------------------------------------------
# A synchronous request's S3 calls are attempted once by botocore (``aws.s3_single_attempt``) and retried here, never
# past the invocation's end: botocore's standard mode (8 attempts, backoff capped at 20 s) outlasted the 28 s function
# and API Gateway answered 502 instead of S3's 503.
# The longest one attempt may take: the single-attempt client's connect and read timeouts (aws.py), plus a margin.
CALL_BUDGET_SECONDS = 2 + 8 + 1
# Kept back to render the answer once the work stops.
ANSWER_RESERVE_SECONDS = 1.0
# What Retry-After says when a request ran out of time on a throttled or failing S3.
RETRY_AFTER_SECONDS = 1


class Deadline:
    """The time an invocation has left, from its Lambda context. ``within`` tells whether work of that many seconds
    can still start and leave ``ANSWER_RESERVE_SECONDS`` to answer."""

    def __init__(self, seconds_left: Callable[[], float]) -> None:
        self._seconds_left = seconds_left

    @classmethod
    def of(cls, lambda_context: Any) -> Deadline:
        """From ``get_remaining_time_in_millis``; unbounded without a context (a direct call, a test)."""
        remaining_millis = getattr(lambda_context, "get_remaining_time_in_millis", None)
        if remaining_millis is None:
            return cls.unbounded()
        return cls(lambda: remaining_millis() / 1000 - ANSWER_RESERVE_SECONDS)

    @classmethod
    def unbounded(cls) -> Deadline:
        return cls(lambda: math.inf)

    def remaining(self) -> float:
        return max(self._seconds_left(), 0.0)

    def within(self, seconds: float) -> bool:
        return self.remaining() >= seconds

    def less(self, seconds: float) -> Deadline:
        """This deadline, ``seconds`` earlier: the end of one part of the work, keeping time for what follows it."""
        return Deadline(lambda: self._seconds_left() - seconds)

    @property
    def passed(self) -> bool:
        return self._seconds_left() <= 0


class OutOfTime(Exception):
    """A synchronous call could not be completed before the deadline. ``last_code`` is S3's last retryable error
    code (SlowDown, InternalError...), or None when the deadline passed before any attempt failed."""

    def __init__(self, last_code: str | None) -> None:
        super().__init__(f"Out of time (last S3 error: {last_code or 'none'})")
        self.last_code = last_code


def retryable_code(code: str, status: int | None) -> str | None:
    """S3's error code for a whole call if retrying it may help, else None."""
    if is_retryable(code):
        return code
    if code.isdigit() and status is None:
        status = int(code)
    if status in RETRYABLE_STATUSES:
        return RETRYABLE_STATUSES[status]
    return None


def wait(seconds: float) -> None:
    """Sleep between attempts (tests replace it to advance a fake clock instead)."""
    time.sleep(seconds)


def _wait(seconds: float) -> None:
    wait(seconds)  # looked up at each pause, so that a test replacing ``wait`` is obeyed


@dataclass(frozen=True)
class RetryPolicy:
    """How often something S3 failed transiently is attempted (a whole call, or the keys of a DeleteObjects answer),
    with exponential backoff and full jitter between attempts, and never past the deadline: another attempt starts
    only if it fits."""

    attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 1.0
    sleep: Callable[[float], None] = _wait

    def pause_before(self, retry_number: int, deadline: Deadline) -> bool:
        """Wait before retry ``retry_number`` (0-based); False, without waiting, if no attempt fits after it."""
        seconds = full_jitter(retry_number, self.base_delay, self.max_delay)
        if not deadline.within(seconds + CALL_BUDGET_SECONDS):
            return False
        self.sleep(seconds)
        return True


# A synchronous request's single-attempt client (aws.s3_single_attempt), retried within the invocation's time
# (``storage.gateway.call_before``).
CALL_RETRY = RetryPolicy(attempts=8, max_delay=2.0)
