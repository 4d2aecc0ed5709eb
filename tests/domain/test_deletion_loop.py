"""The deletion loop (``storage.deletion``) on an in-memory S3 behind the real gateway (``tests.fakes.s3_gateway``):
batches of at most 1000, per-key retries of what S3 throttled, whole calls retried within the deadline, refusals
reported per key, and the loop stopping in time. No moto: each test arranges the bucket and its faults, runs the
loop, and checks what the bucket holds afterwards."""

from __future__ import annotations

import pytest

from eraser.errors import BucketNotFound
from eraser.storage import retries
from eraser.storage.deletion import KeyFailure, ObjectTarget, RetryPolicy, S3ObjectStore, delete_keys, delete_versions
from eraser.storage.retries import Deadline
from tests.fakes.s3_gateway import OWNER, FakeS3

BUCKET = "fake-bucket"


class Clock:
    """A Lambda's time left that moves only when S3 answers or the loop waits."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def advance(self, seconds: float) -> None:
        self.left -= seconds


@pytest.fixture
def s3() -> FakeS3:
    fake = FakeS3()
    fake.create_bucket(BUCKET)
    return fake


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Whole-call retries (the gateway's) pause through this list instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(retries, "wait", recorded.append)
    return recorded


def store_of(s3: FakeS3, deadline: Deadline | None = None, **options) -> S3ObjectStore:
    return S3ObjectStore(s3.open_bucket(BUCKET, OWNER, deadline=deadline or Deadline.unbounded()), "photos", **options)


def no_sleep() -> RetryPolicy:
    return RetryPolicy(sleep=lambda _: None)


def fill(s3: FakeS3, count: int) -> list[str]:
    keys = [f"k{number:04d}" for number in range(count)]
    for key in keys:
        s3.put(BUCKET, key)
    return keys


def test_never_more_than_1000_keys_per_call(s3):
    keys = fill(s3, 2500)

    outcome = delete_keys(store_of(s3), keys, no_sleep())

    assert [len(batch) for batch in s3.batches()] == [1000, 1000, 500]
    assert outcome.deleted == set(keys)
    assert s3.current_keys(BUCKET) == []
    assert s3.calls == ["delete_objects"] * 3


def test_every_call_names_the_owner(s3):
    s3.create_bucket("elsewhere", owner="210987654321")
    s3.put("elsewhere", "a")

    outcome = delete_keys(S3ObjectStore(s3.open_bucket("elsewhere", OWNER, deadline=Deadline.unbounded()),
                                        "photos"), ["a"], no_sleep())

    assert outcome.failed["a"].code == "AccessDenied"
    assert s3.current_keys("elsewhere") == ["a"]
    assert {arguments["ExpectedBucketOwner"] for _, arguments in s3.requests} == {OWNER}


def test_only_retryable_key_failures_are_retried(s3):
    for key in ("ok", "slow", "denied"):
        s3.put(BUCKET, key)
    s3.fail_key("slow", "SlowDown", times=1)
    s3.fail_key("denied", "AccessDenied")
    pauses: list[float] = []

    outcome = delete_keys(store_of(s3), ["ok", "slow", "denied"], RetryPolicy(sleep=pauses.append))

    assert outcome.deleted == {"ok", "slow"}
    assert outcome.failed == {"denied": KeyFailure(key="denied", code="AccessDenied",
                                                   message="AccessDenied (fake)")}
    assert s3.batches() == [["ok", "slow", "denied"], ["slow"]]
    assert len(pauses) == 1
    assert s3.current_keys(BUCKET) == ["denied"]


def test_keys_still_throttled_after_the_last_attempt_are_reported(s3):
    keys = fill(s3, 3)
    s3.fail_key(keys[1], "SlowDown")

    outcome = delete_keys(store_of(s3), keys, RetryPolicy(attempts=3, sleep=lambda _: None))

    assert outcome.deleted == {keys[0], keys[2]}
    assert outcome.failed[keys[1]].code == "SlowDown" and outcome.failed[keys[1]].retryable
    assert s3.batches() == [keys, [keys[1]], [keys[1]]]
    assert s3.current_keys(BUCKET) == [keys[1]]


def test_a_whole_call_slowed_down_is_retried_by_the_gateway_then_deletes(s3, waits):
    keys = fill(s3, 5)
    s3.fail_calls("delete_objects", "SlowDown", times=2)

    outcome = delete_keys(store_of(s3), keys, no_sleep())

    assert outcome.deleted == set(keys) and not outcome.failed and outcome.out_of_time is None
    assert s3.count("delete_objects") == 3
    assert len(waits) == 2
    assert s3.current_keys(BUCKET) == []


def test_a_whole_call_refused_for_good_fails_every_key_of_its_batch_and_later_batches_still_run(s3):
    keys = fill(s3, 1500)
    s3.fail_calls("delete_objects", "AccessDenied", times=1)

    outcome = delete_keys(store_of(s3), keys, no_sleep())

    assert {failure.code for failure in outcome.failed.values()} == {"AccessDenied"}
    assert set(outcome.failed) == set(keys[:1000])
    assert outcome.deleted == set(keys[1000:])
    assert s3.current_keys(BUCKET) == keys[:1000]


def test_calls_throttled_past_the_deadline_stop_the_loop_with_what_was_left(s3, monkeypatch):
    keys = fill(s3, 1500)
    clock = Clock(30.0)
    monkeypatch.setattr(retries, "wait", clock.advance)
    s3.on_call = lambda operation: clock.advance(3.0)
    deadline = Deadline(lambda: clock.left)
    store = store_of(s3, deadline)
    # The first batch goes through; then every call is throttled.
    first = delete_keys(store, keys[:1000], no_sleep(), deadline)
    s3.fail_calls("delete_objects", "SlowDown", times=1_000)

    outcome = delete_keys(store, keys[1000:], no_sleep(), deadline)

    assert first.deleted == set(keys[:1000])
    assert outcome.out_of_time is not None and outcome.out_of_time.last_code == "SlowDown"
    assert outcome.deleted == set() and outcome.failed == {}
    assert outcome.left_of(keys[1000:]) == keys[1000:]
    # Stopped while another attempt would not have fitted, not after the invocation's end.
    assert 0 <= clock.left < retries.CALL_BUDGET_SECONDS + 2.0
    assert 2 <= s3.count("delete_objects") - 1 <= retries.CALL_RETRY.attempts
    assert s3.current_keys(BUCKET) == keys[1000:]


def test_keys_xml_cannot_carry_are_deleted_one_by_one(s3):
    keys = ["plain", "bell\x07key"]
    for key in keys:
        s3.put(BUCKET, key)

    outcome = delete_keys(store_of(s3), keys, no_sleep())

    assert outcome.deleted == set(keys)
    assert s3.batches() == [["plain"]]
    assert s3.count("delete_object") == 1
    assert s3.current_keys(BUCKET) == []


def test_versions_are_deleted_by_id_and_a_delete_marker_removed_is_reported(s3):
    s3.create_bucket("versioned", versioning="Enabled")
    first = s3.put("versioned", "doc")
    second = s3.put("versioned", "doc")
    store = S3ObjectStore(s3.open_bucket("versioned", OWNER, deadline=Deadline.unbounded()), "versioned")
    marker = delete_keys(store, ["doc"], no_sleep()).details["doc"]
    assert marker.delete_marker and marker.delete_marker_version_id

    targets = [ObjectTarget("doc", first), ObjectTarget("doc", marker.delete_marker_version_id)]
    outcome = delete_versions(store, targets, no_sleep())

    assert outcome.deleted == set(targets)
    assert outcome.details[targets[1]].delete_marker
    assert s3.versions("versioned") == [("doc", second, False)]


def test_a_bucket_gone_is_not_found_for_a_request_and_fails_every_key_for_a_task(s3):
    with pytest.raises(BucketNotFound):
        delete_keys(S3ObjectStore(s3.open_bucket("gone", OWNER, deadline=Deadline.unbounded()), "photos"),
                    ["a"], no_sleep())

    task_store = S3ObjectStore(s3.open_bucket("gone", OWNER, call_retry=no_sleep()), "gone",
                               missing_bucket_fails_keys=True)
    outcome = delete_keys(task_store, ["a", "b"], no_sleep())

    assert {key: failure.code for key, failure in outcome.failed.items()} == {"a": "NoSuchBucket",
                                                                                "b": "NoSuchBucket"}
