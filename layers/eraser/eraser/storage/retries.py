"""What is worth retrying when S3 deletes, and how long to wait, shared by bulk delete and the task engine's worker.

DeleteObjects answers 200 with per-key ``<Error>`` entries; botocore retries whole calls, never single keys, so both
deletion paths retry the keys themselves. They differ in what happens after the last attempt (a synchronous answer
reports the key; the worker raises so SQS redelivers the batch), not in which codes are transient.
"""

from __future__ import annotations

import random

# Per-key or per-call codes that say "try again": S3 throttled (SlowDown 503), failed internally, or timed out.
# Anything else (AccessDenied under Object Lock or a policy, NoSuchBucket...) does not change by retrying.
RETRYABLE_ERRORS = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
                              "OperationAborted", "Throttling", "ThrottlingException"})


def is_retryable(code: str) -> bool:
    return code in RETRYABLE_ERRORS


def full_jitter(retry_number: int, base_seconds: float, cap_seconds: float) -> float:
    """Seconds to wait before retry ``retry_number`` (0-based): exponential backoff with full jitter (AWS
    Architecture Blog, "Exponential Backoff And Jitter")."""
    return random.uniform(0, min(cap_seconds, base_seconds * 2**retry_number))
