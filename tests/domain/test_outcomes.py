"""The outcome vocabulary (docs/dry-run.md) read from what S3 answered, without S3: S3's codes, the retention check
on a versioned AccessDenied, and the codes an S3 ``<Error>`` carries for each outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eraser.storage.conditions import StoredObject
from eraser.storage.deletion import AttemptOutcome, DeletedDetail, KeyFailure
from eraser.storage.outcomes import (
    Outcome,
    confirm_retention,
    of_deleted,
    of_denied_version,
    of_error,
    s3_error_code,
    zero_counts,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TOMORROW = NOW + timedelta(days=1)
YESTERDAY = NOW - timedelta(days=1)


def test_the_vocabulary_is_the_documents():
    assert [outcome.value for outcome in Outcome] == [
        "deleted", "delete_marker_created", "already_absent", "blocked_by_retention", "precondition_failed",
        "access_denied", "throttled", "failed"]
    assert zero_counts() == dict.fromkeys((outcome.value for outcome in Outcome), 0)


@pytest.mark.parametrize(("by_version", "delete_marker", "expected"), [
    (False, False, Outcome.DELETED),  # an unversioned bucket's object
    (False, True, Outcome.DELETE_MARKER_CREATED),  # a versioned bucket, no version id: the data stays
    (True, False, Outcome.DELETED),  # a version removed
    (True, True, Outcome.DELETED),  # a delete marker removed by its id: S3 reports DeleteMarker there too
])
def test_a_deleted_entry(by_version, delete_marker, expected):
    assert of_deleted(by_version=by_version, delete_marker=delete_marker) == expected


@pytest.mark.parametrize(("code", "expected"), [
    ("AccessDenied", Outcome.ACCESS_DENIED),
    ("403", Outcome.ACCESS_DENIED),  # a HEAD's error has no body: botocore names the code by the status
    ("PreconditionFailed", Outcome.PRECONDITION_FAILED),
    ("412", Outcome.PRECONDITION_FAILED),
    ("SlowDown", Outcome.THROTTLED),
    ("InternalError", Outcome.THROTTLED),
    ("ServiceUnavailable", Outcome.THROTTLED),
    ("NoSuchBucket", Outcome.FAILED),
    ("InvalidArgument", Outcome.FAILED),
    ("KeyTooLongError", Outcome.FAILED),
])
def test_an_error_code_after_the_last_attempt(code, expected):
    assert of_error(code) == expected


@pytest.mark.parametrize(("version", "bypass", "expected"), [
    (StoredObject(exists=True, legal_hold=True), False, Outcome.BLOCKED_BY_RETENTION),
    (StoredObject(exists=True, legal_hold=True), True, Outcome.BLOCKED_BY_RETENTION),  # no bypass lifts a hold
    (StoredObject(exists=True, lock_mode="COMPLIANCE", lock_retain_until=TOMORROW), True,
     Outcome.BLOCKED_BY_RETENTION),
    (StoredObject(exists=True, lock_mode="GOVERNANCE", lock_retain_until=TOMORROW), False,
     Outcome.BLOCKED_BY_RETENTION),
    (StoredObject(exists=True, lock_mode="GOVERNANCE", lock_retain_until=TOMORROW), True, Outcome.ACCESS_DENIED),
    (StoredObject(exists=True, lock_mode="COMPLIANCE", lock_retain_until=YESTERDAY), False, Outcome.ACCESS_DENIED),
    (StoredObject(exists=True), False, Outcome.ACCESS_DENIED),  # a policy refused it
    (StoredObject(exists=True, is_delete_marker=True), False, Outcome.ACCESS_DENIED),
    (StoredObject(exists=False), False, Outcome.ACCESS_DENIED),
    (None, False, Outcome.ACCESS_DENIED),  # the HEAD itself failed: nothing confirms a lock
])
def test_a_versioned_access_denied_is_blocked_by_retention_only_when_the_version_shows_it(version, bypass,
                                                                                         expected):
    assert of_denied_version(version, bypass_governance=bypass, now=NOW) == expected


def test_the_retention_check_heads_only_a_versioned_access_denied():
    headed: list[str] = []

    def head(version_id: str) -> StoredObject:
        headed.append(version_id)
        return StoredObject(exists=True, legal_hold=True)

    assert confirm_retention(Outcome.ACCESS_DENIED, None, head) == Outcome.ACCESS_DENIED
    assert confirm_retention(Outcome.THROTTLED, "v1", head) == Outcome.THROTTLED
    assert confirm_retention(Outcome.FAILED, "v1", head) == Outcome.FAILED
    assert headed == []
    assert confirm_retention(Outcome.ACCESS_DENIED, "v1", head) == Outcome.BLOCKED_BY_RETENTION
    assert headed == ["v1"]


@pytest.mark.parametrize(("outcome", "code", "expected"), [
    (Outcome.BLOCKED_BY_RETENTION, "AccessDenied", "AccessDenied"),
    (Outcome.ACCESS_DENIED, "AccessDenied", "AccessDenied"),
    (Outcome.PRECONDITION_FAILED, "412", "PreconditionFailed"),
    (Outcome.THROTTLED, "InternalError", "SlowDown"),
    (Outcome.THROTTLED, "SlowDown", "SlowDown"),
    (Outcome.FAILED, "InvalidArgument", "InvalidArgument"),
    (Outcome.FAILED, "NotImplemented", "NotImplemented"),
])
def test_the_s3_code_of_each_failing_outcome(outcome, code, expected):
    assert s3_error_code(outcome, code) == expected


def test_a_key_failure_reads_its_outcome_from_its_code_unless_given():
    assert KeyFailure(key="k", code="SlowDown").outcome == Outcome.THROTTLED
    assert KeyFailure(key="k", code="NoSuchBucket").outcome == Outcome.FAILED
    given = KeyFailure(key="k", version_id="v", code="AccessDenied", outcome=Outcome.BLOCKED_BY_RETENTION)
    assert given.outcome == Outcome.BLOCKED_BY_RETENTION
    # A failure sample stored before outcomes existed, and one stored with its outcome, read back.
    assert KeyFailure.model_validate({"key": "k", "code": "AccessDenied"}).outcome == Outcome.ACCESS_DENIED
    assert KeyFailure.model_validate(given.model_dump(mode="json")) == given


def test_an_attempt_gives_every_entry_deleted_or_failed_its_outcome_and_none_to_the_others():
    attempt: AttemptOutcome[str] = AttemptOutcome(
        deleted={"plain", "marked", "undetailed"},
        failed={"held": KeyFailure(key="held", version_id="v", code="AccessDenied",
                                   outcome=Outcome.BLOCKED_BY_RETENTION),
                "hot": KeyFailure(key="hot", code="SlowDown")},
        details={"plain": DeletedDetail(), "marked": DeletedDetail(delete_marker=True,
                                                                   outcome=Outcome.DELETE_MARKER_CREATED)})

    assert attempt.outcomes == {"plain": Outcome.DELETED, "marked": Outcome.DELETE_MARKER_CREATED,
                                "undetailed": Outcome.DELETED, "held": Outcome.BLOCKED_BY_RETENTION,
                                "hot": Outcome.THROTTLED}
    assert attempt.left_of(["plain", "never-answered"]) == ["never-answered"]
