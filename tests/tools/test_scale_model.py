"""The scale model (bench/scale): its S3 answers SlowDown above a partition's limit and splits a partition after
sustained load, its bucket exists only as arithmetic, and a small run deletes every object exactly once. Behaviour,
not timing: every assertion is on the model's state afterwards."""

from __future__ import annotations

import math
import random

from bench.scale import contenders
from bench.scale.cli import Scenario, run_one
from bench.scale.clock import Channel, Simulator
from bench.scale.contenders import split_ranges
from bench.scale.keyspace import Bucket, Position
from bench.scale.parameters import PARAMETERS, Values
from bench.scale.s3 import S3Model


def model(entries: int = 100_000, prefixes: int = 4, **overrides: float) -> S3Model:
    return S3Model(Bucket(entries, prefixes), Values(overrides), random.Random(1), partitioned_prefixes=False)


def test_delete_objects_above_the_partition_limit_is_slowed_down_and_deletes_nothing() -> None:
    s3 = model()
    limit = int(PARAMETERS["s3_delete_per_partition"].value)
    accepted = 0
    answers = []
    # Within one virtual second: 3,500 keys pass, the next call is refused.
    for call in range(5):
        _, fresh = s3.delete_objects(0.001 * call, [(0, call * 1000, (call + 1) * 1000)])
        answers.append(fresh)
        accepted += fresh or 0
    assert answers[:3] == [1000, 1000, 1000]
    assert None in answers[3:]
    assert accepted <= limit
    assert s3.log.slowdowns["DeleteObjects"] >= 1
    refused = answers.index(None)
    assert s3.bucket.deleted_in(0, refused * 1000, (refused + 1) * 1000) == 0
    # A second later the budget is back.
    _, fresh = s3.delete_objects(1.5, [(0, 10_000, 11_000)])
    assert fresh == 1000


def test_list_requests_have_their_own_limit() -> None:
    s3 = model(s3_read_per_partition=10)
    answers = [s3.list_page(0.0, Position(0, 0))[1] for _ in range(12)]
    assert all(answer is not None for answer in answers[:10])
    assert answers[10] is None and answers[11] is None


def test_a_partition_splits_after_sustained_load_and_not_before() -> None:
    s3 = model(entries=1_000_000, prefixes=1, s3_split_after_seconds=60, s3_split_window_seconds=10)
    assert s3.partition_count == 1
    now, lo = 0.0, 0
    # 3,000 keys a second (above 80 % of 3,500) for 50 s: still one partition.
    while now < 50:
        s3.delete_objects(now, [(0, lo, lo + 1000)])
        now, lo = now + 1 / 3, lo + 1000
    assert s3.partition_count == 1
    while now < 100:
        s3.delete_objects(now, [(0, lo, lo + 1000)])
        now, lo = now + 1 / 3, lo + 1000
    assert s3.partition_count == 2
    assert s3.splits and s3.splits[0][1] == 500_000


def test_a_partition_under_light_load_never_splits() -> None:
    s3 = model(entries=1_000_000, prefixes=1, s3_split_after_seconds=60, s3_split_window_seconds=10)
    for second in range(600):
        s3.delete_objects(float(second), [(0, second * 1000, second * 1000 + 1000)])
    assert s3.partition_count == 1


def test_keys_are_generated_lazily_and_deletions_cost_a_bit_each() -> None:
    bucket = Bucket(10**9, 100)
    # No list of keys: one bit per entry, 125 MB at a billion.
    assert bucket.memory_bytes() == math.ceil(10**9 / 100 / 8) * 100
    assert bucket.key_of(99, 9_999_999) == "p00099/000009999999"
    runs, following = bucket.live_runs(Position(42, 5), 1000)
    assert runs == [(42, 5, 1005)]
    assert following == Position(42, 1005)
    assert Bucket(5, 1, versioned=True).key_of(0, 4) == "p00000/000000000001"


def test_listing_skips_deleted_entries_and_crosses_prefixes() -> None:
    bucket = Bucket(30, 3)
    bucket.delete((0, 2, 5))
    bucket.delete((1, 0, 10))
    runs, following = bucket.live_runs(Position(0, 0), 8)
    assert runs == [(0, 0, 2), (0, 5, 10), (2, 0, 1)]
    assert following == Position(2, 1)
    assert bucket.delete((0, 0, 3)) == 2
    assert bucket.deleted_again == 1


def test_ranges_cover_the_key_space_once() -> None:
    for entries, prefixes, count in ((1000, 100, 16), (1000, 4, 16), (997, 3, 128), (10, 1, 4)):
        bucket = Bucket(entries, prefixes)
        seen = 0
        for start, end in split_ranges(bucket, count):
            position: Position | None = start
            while position is not None:
                runs, position = bucket.live_runs(position, 1000, end=end)
                for run in runs:
                    seen += bucket.delete(run)
        assert seen == entries and bucket.left == 0 and bucket.deleted_again == 0


def test_channel_hands_items_to_waiting_processes_in_virtual_time() -> None:
    sim = Simulator()
    channel = Channel(sim)
    got = []

    def consumer():
        item = yield channel.take()
        got.append((sim.now, item))

    def producer():
        yield 5.0
        channel.put("x")

    sim.start(consumer())
    sim.start(producer())
    sim.run()
    assert got == [(5.0, "x")]


def test_every_contender_deletes_each_object_exactly_once_in_a_small_run() -> None:
    scenario = Scenario("small", 20_000, 8)
    values = Values()
    for name in ("eraser-design", "s5cmd", "boto3-1", "boto3-16"):
        result = run_one(scenario, name, values, seed=3)
        assert result.left == 0, name
        assert result.exact, name
    design = run_one(scenario, "eraser-design", values, seed=3)
    assert design.details["counted_deleted"] == 20_000


def test_eraser_stays_exact_when_throttled_on_one_hot_partition() -> None:
    scenario = Scenario("hot", 50_000, 1, partitioned=False, splits=False)
    result = run_one(scenario, "eraser-design", Values({"s3_delete_per_partition": 1000}), seed=5)
    assert result.left == 0
    assert result.details["counted_deleted"] == 50_000


def test_a_versioned_run_is_exact() -> None:
    result = run_one(Scenario("versioned", 25_000, 5, versioned=True), "eraser-design", Values(), seed=2)
    assert result.left == 0 and result.details["counted_deleted"] == 25_000
    assert result.requests["s3:ListObjectVersions"] >= 25


def test_unknown_parameters_are_refused() -> None:
    try:
        Values({"no_such_parameter": 1})
    except KeyError:
        return
    raise AssertionError("an unknown override was accepted")


def test_s5cmd_retries_refused_calls_until_every_key_is_gone() -> None:
    # Two prefixes in one partition: s5cmd's 10 calls in flight ask for far more than 3,500 keys a second.
    sim = Simulator()
    s3 = S3Model(Bucket(50_000, 2), Values(), random.Random(4), partitioned_prefixes=False)
    result = contenders.s5cmd(sim, s3, Values(), random.Random(4), False)
    assert result.left == 0
    assert s3.log.slowdowns["DeleteObjects"] > 0
    assert s3.log.requests["DeleteObjects"] - s3.log.slowdowns["DeleteObjects"] == 50


def test_dynamodb_model_cancels_a_write_on_an_item_inside_another_transaction() -> None:
    from bench.scale.services import DynamoDBModel, TransactionConflict

    ddb = DynamoDBModel(Values({"ddb_transact_hold_ms": 10}), random.Random(1))
    ddb.transact(1.0, [("chunk#1", 1.0), ("task", 2.0)])
    for attempt in (lambda: ddb.transact(1.005, [("chunk#2", 1.0), ("task", 2.0)]),
                    lambda: ddb.update(0.995, "task", 2.0)):
        try:
            attempt()
        except TransactionConflict:
            continue
        raise AssertionError("a write inside another transaction's hold went through")
    ddb.get(1.001, "task")
    ddb.transact(1.02, [("chunk#3", 1.0), ("task", 2.0)])
    assert ddb.conflicts == 2
    assert ddb.write_units == 2 * (1 + 2) * 2


def test_the_real_engine_purges_a_model_bucket_exactly(monkeypatch) -> None:
    from bench.scale.engine_drive import drive_engine

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    outcome = drive_engine(3_000, 3, Values({"ddb_transact_hold_ms": 0}))
    assert outcome["status"] == "completed"
    assert outcome["left"] == 0
    assert outcome["counted_deleted"] == 3_000
    assert outcome["requests"]["s3:DeleteObjects"] == 3
    assert outcome["failed_messages"] == {}
