"""Per-credential fixed-window rate limits, counted in DynamoDB so that every Lambda instance sees the same count."""

from __future__ import annotations

import boto3
import pytest

from eraser import errors
from eraser.config import Settings, from_environment
from eraser.ratelimit import (
    DEFAULT_LIMITS_PER_MINUTE,
    LimitedOperation,
    RateLimiter,
    enforce_rate_limit,
    limits_of,
)


class FrozenClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


WINDOW_START = 1_800_000_000.0  # a multiple of 60: the start of a window


def _stored_hits(stack) -> dict[str, int]:
    table = boto3.resource("dynamodb").Table(stack.environment["RATE_LIMITS_TABLE"])
    return {item["pk"]: int(item["hits"]) for item in table.scan()["Items"]}


def test_documented_defaults():
    assert DEFAULT_LIMITS_PER_MINUTE == {LimitedOperation.PURGE_ALL_TRASH: 5, LimitedOperation.PURGE_BUCKET: 10,
                                         LimitedOperation.DELETE_BUCKET: 10, LimitedOperation.BULK_DELETE_TASK: 30}


def test_limit_is_reached_after_n_requests_and_names_the_total_and_the_retry(stack):
    clock = FrozenClock(WINDOW_START + 15.2)
    limiter = RateLimiter(clock=clock, limits={LimitedOperation.PURGE_ALL_TRASH: 3})
    assert [limiter.hit(LimitedOperation.PURGE_ALL_TRASH, "key:a") for _ in range(3)] == [1, 2, 3]

    with pytest.raises(errors.RateLimited) as raised:
        limiter.hit(LimitedOperation.PURGE_ALL_TRASH, "key:a")

    assert raised.value.total_permitted == 3
    assert raised.value.retry_after == 45  # whole seconds until the window ends, rounded up
    assert list(_stored_hits(stack).values()) == [3]  # refused requests are not counted


def test_next_window_starts_from_zero(stack):
    clock = FrozenClock(WINDOW_START + 59.9)
    limiter = RateLimiter(clock=clock, limits={LimitedOperation.PURGE_BUCKET: 2})
    limiter.hit(LimitedOperation.PURGE_BUCKET, "key:a")
    limiter.hit(LimitedOperation.PURGE_BUCKET, "key:a")
    with pytest.raises(errors.RateLimited) as raised:
        limiter.hit(LimitedOperation.PURGE_BUCKET, "key:a")
    assert raised.value.retry_after == 1

    clock.now = WINDOW_START + 60.0
    assert limiter.hit(LimitedOperation.PURGE_BUCKET, "key:a") == 1


def test_count_is_shared_across_instances(stack):
    """Two limiters stand for two Lambda instances: the count lives in the table, not in memory."""
    clock = FrozenClock(WINDOW_START)
    limits = {LimitedOperation.DELETE_BUCKET: 2}
    RateLimiter(clock=clock, limits=limits).hit(LimitedOperation.DELETE_BUCKET, "key:a")
    RateLimiter(clock=clock, limits=limits).hit(LimitedOperation.DELETE_BUCKET, "key:a")
    with pytest.raises(errors.RateLimited):
        RateLimiter(clock=clock, limits=limits).hit(LimitedOperation.DELETE_BUCKET, "key:a")


def test_limits_are_per_credential_and_per_operation(stack):
    clock = FrozenClock(WINDOW_START)
    limiter = RateLimiter(clock=clock, limits={LimitedOperation.PURGE_ALL_TRASH: 1,
                                               LimitedOperation.BULK_DELETE_TASK: 1})
    limiter.hit(LimitedOperation.PURGE_ALL_TRASH, "key:a")
    with pytest.raises(errors.RateLimited):
        limiter.hit(LimitedOperation.PURGE_ALL_TRASH, "key:a")

    assert limiter.hit(LimitedOperation.PURGE_ALL_TRASH, "key:b") == 1
    assert limiter.hit(LimitedOperation.BULK_DELETE_TASK, "key:a") == 1


def test_items_expire_through_ttl_after_their_window(stack):
    RateLimiter(clock=FrozenClock(WINDOW_START + 5), limits={LimitedOperation.PURGE_BUCKET: 1}).hit(
        LimitedOperation.PURGE_BUCKET, "jwt:" + "x" * 500)
    table = boto3.resource("dynamodb").Table(stack.environment["RATE_LIMITS_TABLE"])
    (item,) = table.scan()["Items"]
    assert int(item["expires_at"]) == WINDOW_START + 120
    assert "x" * 500 not in item["pk"]  # an overlong JWT subject is hashed to keep the key small


def test_limits_are_configurable_through_the_environment():
    environment = {"RATE_LIMIT_PURGE_ALL_TRASH": "2", "RATE_LIMIT_BULK_DELETE_TASK": ""}
    limits = limits_of(from_environment(Settings, environment).rate_limits)
    assert limits[LimitedOperation.PURGE_ALL_TRASH] == 2
    assert limits[LimitedOperation.BULK_DELETE_TASK] == 30
    for refused in ("0", "-1", "5.0", "1e3", "many"):
        with pytest.raises(ValueError):
            from_environment(Settings, {"RATE_LIMIT_PURGE_BUCKET": refused})


def test_an_unreachable_table_fails_closed_with_service_unavailable(stack):
    limiter = RateLimiter("no-such-table", clock=FrozenClock(WINDOW_START))
    with pytest.raises(errors.ServiceUnavailable):
        limiter.hit(LimitedOperation.PURGE_BUCKET, "key:a")


def test_enforce_rate_limit_counts_the_principals_credential(stack, tenant):
    from eraser.auth import authenticate

    principal = authenticate(tenant.headers)
    limiter = RateLimiter(clock=FrozenClock(WINDOW_START), limits={LimitedOperation.PURGE_BUCKET: 1})
    enforce_rate_limit(LimitedOperation.PURGE_BUCKET, principal, limiter)
    assert list(_stored_hits(stack)) == [f"RATE#purge_bucket#{principal.credential_id}#{int(WINDOW_START)}"]
    with pytest.raises(errors.RateLimited):
        enforce_rate_limit(LimitedOperation.PURGE_BUCKET, principal, limiter)


# --- through the task-creating endpoints (each API's own 429) -------------------------------------------------------
@pytest.fixture
def frozen_window(monkeypatch):
    monkeypatch.setattr("eraser.ratelimit.wall_clock", lambda: WINDOW_START + 20)


def test_purge_bucket_answers_quivas_429_after_ten_purges_in_a_minute(stack, tenant, frozen_window):
    from tests.support import response_header, response_json
    from tests.tasks_harness import purge

    answers = [purge(tenant)["statusCode"] for _ in range(10)]
    refused = purge(tenant)

    assert 429 not in answers
    assert refused["statusCode"] == 429
    assert response_json(refused)["error"] == "rate_limited"
    assert response_header(refused, "Retry-After") == "40"


def test_delete_bucket_answers_mixpeeks_429_after_ten_deletions_in_a_minute(stack, tenant, frozen_window):
    from tests.support import api_event, invoke, response_header, response_json

    def delete_bucket():
        event = api_event("DELETE", "/v1/buckets/{bucket_identifier}", {"bucket_identifier": tenant.bucket.name},
                          headers=tenant.headers)
        return invoke("delete_bucket", event)

    answers = [delete_bucket()["statusCode"] for _ in range(10)]
    refused = delete_bucket()

    assert 429 not in answers
    assert refused["statusCode"] == 429
    body = response_json(refused)
    assert (body["error"]["type"], body["error"]["code"]) == ("RateLimitError", "rate_limit_reached")
    assert body["error"]["details"] == {"total_permitted": 10}
    assert response_header(refused, "Retry-After") == "40"
    assert tenant.keys() == []  # the refused request did nothing; the bucket is otherwise untouched by this test


def test_only_a_task_creation_is_counted_not_a_replay_or_an_unknown_bucket(stack, tenant, frozen_window, monkeypatch):
    from eraser import config
    from tests.support import api_event, invoke, response_json

    monkeypatch.setenv("RATE_LIMIT_DELETE_BUCKET", "1")
    config.settings.cache_clear()

    def delete_bucket(name: str, key: str | None = None):
        headers = {**tenant.headers, **({"Idempotency-Key": key} if key else {})}
        return invoke("delete_bucket", api_event("DELETE", "/v1/buckets/{bucket_identifier}",
                                                 {"bucket_identifier": name}, headers=headers))

    unknown = delete_bucket("no-such-bucket")
    first = delete_bucket(tenant.bucket.name, "once")
    replay = delete_bucket(tenant.bucket.name, "once")
    another = delete_bucket(tenant.bucket.name, "twice")

    assert [unknown["statusCode"], first["statusCode"], replay["statusCode"]] == [404, 200, 200]
    assert response_json(replay)["task_id"] == response_json(first)["task_id"]
    assert another["statusCode"] == 429
    assert list(_stored_hits(stack).values()) == [1]
