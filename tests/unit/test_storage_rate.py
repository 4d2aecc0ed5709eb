"""storage.rate: the per-prefix AIMD rate reacts to SlowDown (a throttled prefix slows alone) and spaces calls at
its rate, on a fake clock."""

from __future__ import annotations

import pytest

from eraser.storage.rate import PrefixRates, prefix_of


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def rates(clock: FakeClock, **kwargs: float) -> PrefixRates:
    return PrefixRates(clock=clock, sleep=clock.sleep, **kwargs)


def test_prefix_is_the_first_path_segment() -> None:
    assert prefix_of("logs/2026/a.gz") == "logs/"
    assert prefix_of("dir/") == "dir/"
    assert prefix_of("flat-key") == ""
    assert prefix_of("ünï/ç") == "ünï/"


def test_calls_are_spaced_at_the_prefix_rate() -> None:
    clock = FakeClock()
    limiter = rates(clock, start=1000.0)
    assert limiter.acquire("a/", 1000) == 0.0
    # The first call used the prefix's whole second: the next waits for it.
    assert limiter.acquire("a/", 500) == pytest.approx(1.0)
    assert limiter.acquire("b/", 1000) == 0.0


def test_slowdown_cuts_the_rate_and_pauses_only_that_prefix() -> None:
    clock = FakeClock()
    limiter = rates(clock, start=3000.0, decrease=0.5, pause_seconds=2.0)
    limiter.throttled("hot/")
    assert limiter.rate("hot/") == 1500.0
    assert limiter.rate("cold/") == 3000.0
    assert limiter.acquire("cold/", 1000) == 0.0
    assert limiter.acquire("hot/", 1000) == pytest.approx(2.0)


def test_rate_never_goes_under_the_floor_and_grows_back_with_success() -> None:
    clock = FakeClock()
    limiter = rates(clock, start=400.0, floor=100.0, decrease=0.5, increase_per_second=50.0)
    for _ in range(5):
        limiter.throttled("p/")
    assert limiter.rate("p/") == 100.0
    limiter.succeeded("p/", 100)  # one second's worth of keys at 100/s: +50
    assert limiter.rate("p/") == pytest.approx(150.0)


def test_a_slot_taken_before_a_slowdown_is_taken_again_at_the_new_rate() -> None:
    clock = FakeClock()
    limiter = rates(clock, start=1000.0, decrease=0.5, pause_seconds=1.0)
    limiter.acquire("p/", 1000)

    def throttle_while_waiting(seconds: float) -> None:
        clock.now += seconds
        if len(clock.slept) == 0:
            limiter.throttled("p/")
        clock.slept.append(seconds)

    limiter._sleep = throttle_while_waiting  # type: ignore[attr-defined]
    waited = limiter.acquire("p/", 500)
    # Waited its first slot (1 s), was throttled meanwhile, then waited out the pause from then (1 s).
    assert waited == pytest.approx(2.0)
    assert limiter.rate("p/") == 500.0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        PrefixRates(decrease=1.0)
    with pytest.raises(ValueError):
        PrefixRates(start=50.0, floor=100.0)


# --- the deletion loop's hook, on an in-memory S3 behind the real gateway ---------------------------------------------
def test_the_deletion_loop_slows_only_the_prefix_s3_throttles_and_deletes_everything(monkeypatch) -> None:
    from eraser.storage import retries
    from eraser.storage.deletion import ObjectTarget, RetryPolicy, S3ObjectStore, delete_versions
    from tests.fakes.s3_gateway import OWNER, FakeS3

    clock = FakeClock()
    monkeypatch.setattr(retries, "wait", clock.sleep)
    s3 = FakeS3()
    s3.create_bucket("b")
    hot = [f"hot/{number:04d}" for number in range(1500)]
    cold = [f"cold/{number:04d}" for number in range(1500)]
    for key in hot + cold:
        s3.put("b", key)
    limiter = PrefixRates(start=3000.0, decrease=0.5, clock=clock)
    store = S3ObjectStore(s3.open_bucket("b", OWNER), "b", rates=limiter)
    s3.fail_calls("delete_objects", "SlowDown", times=1)
    retry = RetryPolicy(attempts=3, sleep=clock.sleep)
    hot_outcome = delete_versions(store, [ObjectTarget(key) for key in hot], retry)
    cold_outcome = delete_versions(store, [ObjectTarget(key) for key in cold], retry)
    # Throttling is never a failure once a later attempt succeeded: every key gone, none reported failed.
    assert len(hot_outcome.deleted) == 1500 and not hot_outcome.failed
    assert len(cold_outcome.deleted) == 1500 and not cold_outcome.failed
    assert s3.current_keys("b") == []
    assert limiter.rate("hot/") < 3000.0
    assert limiter.rate("cold/") > 3000.0
