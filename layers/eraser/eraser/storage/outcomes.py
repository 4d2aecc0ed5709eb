"""The one outcome vocabulary of a deletion (docs/dry-run.md, "The outcome vocabulary"), and how it is read from what
S3 answered.

Every key or version Eraser tries to delete ends in one ``Outcome``. The deletion loop (``storage.deletion``) gives
each entry its outcome; every API family renders the same outcome in its own shape (S3's XML codes with
``s3_error_code``, Seahorse's ``errors[].outcome``, the tasks' ``counts.outcomes``).

Two outcomes are never read from S3's words alone:
- ``blocked_by_retention``: S3 answers AccessDenied both for Object Lock and for a policy, with messages that differ
  between S3, moto and other backends; a versioned entry refused with AccessDenied is only called blocked once a
  HEAD of that version shows a legal hold or unexpired retention (``confirm_retention``);
- ``already_absent``: S3 answers Deleted for a key or version that was not there, so only Eraser's own knowledge (a
  check of the version id, a listing, a plan) says it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from eraser.errors import AccessDenied
from eraser.storage.conditions import StoredObject
from eraser.storage.objects import ensure_not_locked
from eraser.storage.retries import is_retryable


class Outcome(StrEnum):
    DELETED = "deleted"
    DELETE_MARKER_CREATED = "delete_marker_created"
    ALREADY_ABSENT = "already_absent"
    BLOCKED_BY_RETENTION = "blocked_by_retention"
    PRECONDITION_FAILED = "precondition_failed"
    ACCESS_DENIED = "access_denied"
    THROTTLED = "throttled"
    FAILED = "failed"


ACCESS_DENIED_CODE = "AccessDenied"
PRECONDITION_FAILED_CODE = "PreconditionFailed"
# An error without a body (a HEAD's, a 412 to a conditional DELETE) has only its status as botocore's code.
ACCESS_DENIED_CODES = frozenset({ACCESS_DENIED_CODE, "403"})
PRECONDITION_FAILED_CODES = frozenset({PRECONDITION_FAILED_CODE, "412"})
# S3's code for a key still throttled when the retries or the request's time ran out (docs/dry-run.md).
THROTTLED_CODE = "SlowDown"


def of_deleted(*, by_version: bool, delete_marker: bool) -> Outcome:
    """An entry S3 reported as Deleted. ``DeleteMarker`` means a marker was created only for an entry without a
    version id; deleting a marker by its id reports ``DeleteMarker`` too, and removes it (``deleted``)."""
    return Outcome.DELETE_MARKER_CREATED if delete_marker and not by_version else Outcome.DELETED


def of_error(code: str) -> Outcome:
    """An entry (or the whole call) S3 refused with ``code``, after the last attempt: a retryable code still failing
    then is ``throttled``. An AccessDenied is ``access_denied`` until ``confirm_retention`` shows otherwise."""
    if code in ACCESS_DENIED_CODES:
        return Outcome.ACCESS_DENIED
    if code in PRECONDITION_FAILED_CODES:
        return Outcome.PRECONDITION_FAILED
    if is_retryable(code):
        return Outcome.THROTTLED
    return Outcome.FAILED


def is_retained(version: StoredObject, *, bypass_governance: bool = False, now: datetime | None = None) -> bool:
    """Whether Object Lock protects ``version`` from deletion: S3's rule, as ``objects.ensure_not_locked`` applies
    it before a DeleteObject."""
    try:
        ensure_not_locked(version, bypass_governance=bypass_governance, now=now)
    except AccessDenied:
        return True
    return False


def of_denied_version(version: StoredObject | None, *, bypass_governance: bool = False,
                      now: datetime | None = None) -> Outcome:
    """A versioned delete S3 refused with AccessDenied, judged on a HEAD of that version (None when the HEAD itself
    failed: nothing confirms a lock, so it stays ``access_denied``)."""
    if version is not None and version.exists and not version.is_delete_marker \
            and is_retained(version, bypass_governance=bypass_governance, now=now):
        return Outcome.BLOCKED_BY_RETENTION
    return Outcome.ACCESS_DENIED


def confirm_retention(outcome: Outcome, version_id: str | None,
                      head_version: Callable[[str], StoredObject | None]) -> Outcome:
    """``outcome`` as S3's code said, or ``blocked_by_retention`` for a versioned AccessDenied once ``head_version``
    (a HEAD of that version; None if it could not describe it) shows Object Lock protecting it. Only a delete
    naming a version can be blocked: a key-only delete on a locked bucket creates a delete marker."""
    if version_id is None or outcome != Outcome.ACCESS_DENIED:
        return outcome
    return of_denied_version(head_version(version_id))


def s3_error_code(outcome: Outcome, code: str) -> str:
    """The code an S3 ``<Error>`` carries for ``outcome`` (docs/dry-run.md's table); ``failed`` keeps S3's own."""
    if outcome in (Outcome.BLOCKED_BY_RETENTION, Outcome.ACCESS_DENIED):
        return ACCESS_DENIED_CODE
    if outcome == Outcome.PRECONDITION_FAILED:
        return PRECONDITION_FAILED_CODE
    if outcome == Outcome.THROTTLED:
        return THROTTLED_CODE
    return code


def zero_counts() -> dict[str, int]:
    """Every outcome counted zero: the shape of a task's ``counts.outcomes``."""
    return {outcome.value: 0 for outcome in Outcome}
