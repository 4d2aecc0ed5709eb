"""Small pure pieces of the bench: keys and partitions, `-X importtime` parsing, reading Eraser's task answers."""

from __future__ import annotations

from collections import Counter

from bench.coldstart import parse_importtime
from bench.eraser_stack import progress_of, status_of, task_id_of
from bench.scenarios import PARTITIONS, Kind, Scenario, keys_for, partition_of


def test_keys_are_unique_and_spread_over_the_sixteen_partitions() -> None:
    keys = keys_for(16_000)
    assert len(set(keys)) == 16_000
    spread = Counter(partition_of(key) for key in keys)
    assert set(spread) == set(PARTITIONS)
    assert min(spread.values()) > 800


def test_versioned_scenario_counts_versions_and_markers() -> None:
    assert Scenario("v", Kind.PURGE_VERSIONED, 10_000, "").deleted_count == 25_000
    assert Scenario("u", Kind.PURGE, 100_000, "").deleted_count == 100_000


IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   json.decoder
import time:       200 |        300 | json
import time:      1000 |       1000 |     boto3.session
import time:      5000 |       6000 |   boto3
import time:       700 |        700 |   eraser.api
import time:        50 |       6750 | app
"""


def test_importtime_gives_the_handler_total_and_its_heaviest_imports() -> None:
    total, heaviest = parse_importtime(IMPORTTIME)
    assert total == 6.75
    assert heaviest == [("boto3", 6.0), ("eraser.api", 0.7)]


def test_importtime_without_the_module_gives_nothing() -> None:
    assert parse_importtime("import time: 1 | 1 | json\n") == (None, [])


def test_task_id_is_found_in_the_body_or_the_location_header() -> None:
    assert task_id_of({"task_id": "task_1"}, {}) == "task_1"
    assert task_id_of({"data": {"task": None, "id": "task_2"}}, {}) == "task_2"
    assert task_id_of({"message": "accepted"}, {"Location": "https://api/v1/tasks/task_3"}) == "task_3"
    assert task_id_of(None, {}) is None


def test_status_is_read_case_insensitively() -> None:
    assert status_of({"status": "completed"}) == "COMPLETED"
    assert status_of({"task": {"status": "IN_PROGRESS"}}) == "IN_PROGRESS"


def test_progress_ignores_the_clocks() -> None:
    first = {"status": "IN_PROGRESS", "updated_at": "1", "progress": {"objects_deleted": 5, "heartbeat_at": "a"}}
    later = {"status": "IN_PROGRESS", "updated_at": "2", "progress": {"objects_deleted": 5, "heartbeat_at": "b"}}
    moved = {"status": "IN_PROGRESS", "updated_at": "2", "progress": {"objects_deleted": 6, "heartbeat_at": "b"}}
    assert progress_of(first) == progress_of(later) != progress_of(moved)


def test_partitioned_worker_is_skipped_on_large_versioned_buckets_only() -> None:
    from bench.contenders import Boto3Worker

    worker = Boto3Worker("boto3 16-prefix partitioned", "purge-partitioned", workers=16)
    assert worker.not_applicable(Scenario("v", Kind.PURGE_VERSIONED, 10_000, "")) is not None
    assert worker.not_applicable(Scenario("v", Kind.PURGE_VERSIONED, 5_000, "")) is None
    assert worker.not_applicable(Scenario("u", Kind.PURGE, 100_000, "")) is None
