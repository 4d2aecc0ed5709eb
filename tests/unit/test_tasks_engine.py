"""The engine below the endpoints: trash selection, chunk limits, several targets, the hop cap, the watchdog, dead
letters, and what a finished task record looks like."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from eraser import config
from eraser.clock import utc_now
from eraser.config import engine_settings
from eraser.storage.gateway import ListedVersion
from eraser.tasks import Selection, TaskKind, TaskStatus, create_task, failures_of, get_task
from eraser.tasks.model import ChunkMessage, Counts, Progress, Target, Task
from eraser.tasks.queues import cut_chunks
from eraser.tasks.repository import task_key
from eraser.tasks.selection import trashed_before
from tests.support import invoke, load_event, response_json
from tests.tasks_harness import (
    TaskHarness,
    engine_fixture,  # noqa: F401
    fill,
    purge,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def version(key: str, minutes: int, *, latest: bool = False, marker: bool = False) -> ListedVersion:
    return ListedVersion(key, f"{key}-{minutes}", 1, at(minutes), latest, marker)


# --- trash selection ---------------------------------------------------------------------------------------------------
def test_trash_selection_takes_noncurrent_versions_and_markers_trashed_before_the_cutoff():
    entries = [
        # a: live object (v3 current), v2 superseded at 30, v1 superseded at 20
        version("a", 30, latest=True), version("a", 20), version("a", 10),
        # b: deleted at 25 (current marker), v1 superseded by the marker at 25
        version("b", 25, latest=True, marker=True), version("b", 5),
        # c: deleted at 50, after the cutoff: its marker and version stay
        version("c", 50, latest=True, marker=True), version("c", 15),
        # d: never overwritten
        version("d", 1, latest=True),
    ]
    chosen = trashed_before(entries, at(25), previous_key=None, previous_modified=None)
    # b's marker has a version beneath it: it waits for the next pass so that b@5 never comes back to life.
    assert [(entry.key, entry.last_modified) for entry in chosen.selected] == [("a", at(10)), ("b", at(5))]
    assert chosen.held_marker is None


def test_trash_selection_takes_a_marker_alone_on_its_key_once_the_next_key_or_page_shows_it():
    alone = [version("b", 25, latest=True, marker=True)]
    first = trashed_before(alone, at(30), previous_key=None, previous_modified=None)
    assert first.selected == [] and first.held_marker == alone[0]
    second = trashed_before([version("c", 1, latest=True)], at(30), previous_key=first.previous_key,
                            previous_modified=first.previous_modified, held_marker=first.held_marker)
    assert second.selected == alone


def test_trash_selection_remembers_the_superseding_version_across_pages():
    first = trashed_before([version("a", 30, latest=True)], at(40), previous_key=None, previous_modified=None)
    assert first.selected == []
    second = trashed_before([version("a", 20), version("a", 10)], at(25),
                            previous_key=first.previous_key, previous_modified=first.previous_modified)
    # a@20 was superseded at 30 (after the cutoff); a@10 at 20.
    assert [entry.last_modified for entry in second.selected] == [at(10)]


def test_trash_purge_task_removes_only_trash_and_never_a_current_version(stack, tenant, engine):
    bucket = tenant.add_bucket("binned", versioned=True)
    for index in range(6):
        tenant.put(f"live/{index}", b"v1", bucket=bucket)
        tenant.put(f"live/{index}", b"v2", bucket=bucket)
    for index in range(4):
        tenant.put(f"gone/{index}", b"v1", bucket=bucket)
        tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key=f"gone/{index}")
    tenant.put("untouched", b"only version", bucket=bucket)
    current = {key: version_id for key, version_id, _ in tenant.versions(bucket)
               if key.startswith("live/") or key == "untouched"}
    current = {item["Key"]: item["VersionId"] for item in tenant.s3.list_object_versions(
        Bucket=bucket.s3_bucket)["Versions"] if item["IsLatest"]}

    task = create_task(tenant.organization, TaskKind.TRASH_PURGE, [bucket], "schedule:trash",
                       Selection.trash(superseded_before=utc_now() + timedelta(seconds=1)))
    TaskHarness(stack).drain()

    finished = get_task(task.id)
    assert finished.status == TaskStatus.COMPLETED, finished.last_error
    assert finished.counts.deleted == 6 + 4 * 2  # noncurrent live versions, trashed versions and their markers
    left = tenant.versions(bucket)
    assert {(key, version_id) for key, version_id, _ in left} == set(current.items())
    assert finished.bucket_empty_at_end is False


def test_trash_purge_with_an_early_cutoff_deletes_nothing(stack, tenant, engine):
    bucket = tenant.add_bucket("binned", versioned=True)
    tenant.put("a", b"v1", bucket=bucket)
    tenant.put("a", b"v2", bucket=bucket)
    task = create_task(tenant.organization, TaskKind.TRASH_PURGE, [bucket], "schedule:trash",
                       Selection.trash(superseded_before=utc_now() - timedelta(hours=1)))
    TaskHarness(stack).drain()
    assert get_task(task.id).status == TaskStatus.COMPLETED
    assert get_task(task.id).counts.deleted == 0
    assert len(tenant.versions(bucket)) == 2


# --- chunks -----------------------------------------------------------------------------------------------------------
def test_chunks_never_exceed_1000_keys():
    entries = [ListedVersion(f"k{index}", None, 1, T0, True, False) for index in range(2500)]
    chunks = cut_chunks("task_x", 0, 1, entries, first_seq=7)
    assert [len(chunk.entries) for chunk in chunks] == [1000, 1000, 500]
    assert [chunk.seq for chunk in chunks] == [7, 8, 9]


def test_chunks_of_long_keys_stay_under_the_sqs_message_limit():
    entries = [ListedVersion("k" * 1000 + str(index), "v" * 32, 1, T0, True, False) for index in range(1000)]
    chunks = cut_chunks("task_x", 0, 1, entries, first_seq=0)
    assert sum(len(chunk.entries) for chunk in chunks) == 1000
    limit = engine_settings().max_message_bytes
    assert all(len(chunk.model_dump_json(exclude_none=True).encode()) < limit for chunk in chunks)
    assert limit <= 256 * 1024


def test_chunk_message_refuses_more_than_1000_keys():
    with pytest.raises(ValueError):
        ChunkMessage(task_id="t", seq=0, target_index=0, pass_number=1,
                     entries=[{"k": str(index)} for index in range(1001)])


# --- several targets, hop cap, progress ------------------------------------------------------------------------------
def test_one_task_empties_several_targets_and_nothing_else(stack, tenant, engine):
    second = tenant.add_bucket("second", versioned=True)
    third = tenant.add_bucket("third")
    fill(tenant, 9)
    fill(tenant, 8, bucket=second)
    fill(tenant, 5, bucket=third)
    task = create_task(tenant.organization, TaskKind.PURGE_BUCKET, [tenant.bucket, second], "test")
    TaskHarness(stack).drain()
    finished = get_task(task.id)
    assert finished.status == TaskStatus.COMPLETED
    assert finished.counts.deleted == 17
    assert tenant.keys() == [] and tenant.versions(second) == []
    assert len(tenant.keys(third)) == 5


def test_listing_beyond_the_hop_cap_fails_the_task_with_the_reason(stack, tenant, engine, monkeypatch):
    monkeypatch.setenv("MAX_LISTING_HOPS", "2")
    config.settings.cache_clear()
    fill(tenant, 30)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()
    task = get_task(task_id)
    assert task.status == TaskStatus.FAILED
    assert "hop cap" in (task.last_error or "")
    assert task.counts.deleted == 30 - len(tenant.keys())


def test_progress_never_reaches_100_before_the_task_finishes():
    task = Task(id="t", kind=TaskKind.PURGE_BUCKET, organization_id="o", account_id="123456789012",
                targets=[Target(bucket_id="b", bucket_name="n", s3_bucket="eraser-x")], requested_by="me",
                status=TaskStatus.RUNNING, created_at=T0, started_at=T0,
                counts=Counts(versions_listed=100, deleted=100))
    progress = Progress.of(task, now=at(1))
    assert progress.percent == 99
    assert progress.rate_per_second == pytest.approx(100 / 60, rel=0.01)


# --- what a finished record looks like ------------------------------------------------------------------------------
def test_finished_task_leaves_the_active_index_expires_after_30_days_and_releases_the_bucket(stack, tenant, engine):
    fill(tenant, 2)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()
    table = boto3.resource("dynamodb").Table(stack.environment["TASKS_TABLE"])
    item = table.get_item(Key=task_key(task_id))["Item"]
    assert "active_status" not in item
    finished_at = datetime.fromisoformat(item["finished_at"])
    assert int(item["expires_at"]) >= (finished_at + timedelta(days=30)).timestamp() - 1
    assert "Item" not in table.get_item(Key={"pk": f"BUCKETLOCK#{tenant.bucket.id}", "sk": "LOCK"})


# --- the watchdog ------------------------------------------------------------------------------------------------------
def _lose_next_listing_message(harness: TaskHarness) -> None:
    lost = harness.sqs.receive_message(QueueUrl=harness.listing_queue, MaxNumberOfMessages=1)["Messages"]
    harness.sqs.delete_message(QueueUrl=harness.listing_queue, ReceiptHandle=lost[0]["ReceiptHandle"])


def test_watchdog_resumes_a_task_whose_listing_worker_died(stack, tenant, engine, monkeypatch):
    keys = fill(tenant, 30)
    task_id = response_json(purge(tenant))["task"]["id"]
    harness = TaskHarness(stack)
    harness.step()
    harness.step()
    _lose_next_listing_message(harness)
    harness.drain()
    assert get_task(task_id).status == TaskStatus.RUNNING  # stuck: nobody holds its next step

    report = invoke("task_watchdog", load_event("task_watchdog.json"))
    assert report == {"resumed": [], "failed": []}  # its heartbeat is fresh
    stale = invoke_watchdog_later(monkeypatch)
    assert stale["resumed"] == [task_id]
    harness.drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.resumes == 0  # the steps saved after the resume count as progress
    assert task.counts.deleted == len(keys)
    assert tenant.keys() == []


def invoke_watchdog_later(monkeypatch, seconds: int = 901) -> dict:
    """The watchdog as it runs after the stall threshold (900 s; the clock is moved, not waited for)."""
    later = utc_now() + timedelta(seconds=seconds)
    monkeypatch.setattr("eraser.tasks.supervision.utc_now", lambda: later)
    return invoke("task_watchdog", load_event("task_watchdog.json"))


def test_watchdog_fails_a_task_that_stays_stalled_after_its_resumes(stack, tenant, engine, monkeypatch):
    fill(tenant, 30)
    task_id = response_json(purge(tenant))["task"]["id"]
    monkeypatch.setenv("WATCHDOG_MAX_RESUMES", "2")
    config.settings.cache_clear()
    harness = TaskHarness(stack)
    harness.step()
    for _ in range(2):
        _lose_next_listing_message(harness)
        assert invoke_watchdog_later(monkeypatch)["resumed"] == [task_id]
    _lose_next_listing_message(harness)
    assert invoke_watchdog_later(monkeypatch)["failed"] == [task_id]

    task = get_task(task_id)
    assert task.status == TaskStatus.FAILED
    assert "stalled" in (task.last_error or "")
    harness.drain()
    assert get_task(task_id).status == TaskStatus.FAILED


# --- dead letters and batch failures --------------------------------------------------------------------------------
def test_a_batch_that_keeps_failing_is_dead_lettered_and_fails_its_task(stack, tenant, engine):
    fill(tenant, 10)
    real_delete = engine.real.delete_objects

    def always_unavailable(**arguments):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "Please retry"}}, "DeleteObjects")

    engine.real = _Replace(engine.real, delete_objects=always_unavailable)
    task_id = response_json(purge(tenant))["task"]["id"]
    run = TaskHarness(stack).drain()

    task = get_task(task_id)
    assert run.dead_letter_invocations >= 1
    assert task.status == TaskStatus.FAILED
    assert "dead-lettered" in (task.last_error or "")
    assert task.counts.deleted == 0
    assert len(tenant.keys()) == 10
    assert real_delete  # the real client was never asked


class _Replace:
    def __init__(self, real, **overrides):
        self._real, self._overrides = real, overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._real, name)


def test_batch_of_only_failing_records_raises_batch_processing_error(stack, engine):
    event = load_event("batch_delete.json")
    event["Records"][0]["body"] = json.dumps({"not": "a chunk"})
    with pytest.raises(BatchProcessingError):
        invoke("batch_delete", event)


def test_partial_batch_failure_reports_only_the_failing_record(stack, tenant, engine):
    event = load_event("batch_delete.json")
    good = dict(event["Records"][0], messageId="good")
    good["body"] = json.dumps({"task_id": "task_unknown", "seq": 0, "target_index": 0, "pass_number": 1,
                               "entries": [{"k": "a"}]})
    bad = dict(event["Records"][0], messageId="bad", body="{}")
    response = invoke("batch_delete", {"Records": [good, bad]})
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


# --- keys and prefixes (bulk delete as a task) -------------------------------------------------------------------
def test_keys_and_prefixes_selection_deletes_those_keys_and_everything_under_the_prefixes_only(stack, tenant, engine):
    fill(tenant, 20, prefix="dir/")
    for key in ("a.txt", "dirx", "other/1", "dir"):
        tenant.put(key, b"x")
    task = create_task(tenant.organization, TaskKind.BULK_DELETE, [tenant.bucket], "test",
                       Selection.keys_and_prefixes(keys=["a.txt", "never-existed", "dir/0003.bin"],
                                                   prefixes=["dir/"]))
    TaskHarness(stack).drain()

    finished = get_task(task.id)
    assert finished.status == TaskStatus.COMPLETED, finished.last_error
    # S3 reports a key that was not there as deleted; it is counted as such.
    assert finished.counts.deleted == 22  # dir/0003.bin, named and under dir/, once
    assert finished.pass_number == 1
    assert tenant.keys() == ["dir", "dirx", "other/1"]


def test_full_pages_are_deleted_in_calls_of_at_most_1000_keys(stack, tenant, engine, monkeypatch):
    monkeypatch.setenv("LISTING_PAGE_SIZE", "1000")
    monkeypatch.setenv("LISTING_PAGES_PER_STEP", "50")
    config.settings.cache_clear()
    client = boto3.client("s3")
    for index in range(1005):
        client.put_object(Bucket=tenant.bucket.s3_bucket, Key=f"k/{index:05d}", Body=b"")
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.deleted == 1005
    sizes = [len(call.arguments["Delete"]["Objects"]) for call in engine.calls if call.operation == "delete_objects"]
    assert sizes == [1000, 5]
    assert tenant.keys() == []


def test_watchdog_resumes_a_task_whose_first_step_was_lost(stack, tenant, engine, monkeypatch):
    fill(tenant, 10)
    task_id = response_json(purge(tenant))["task"]["id"]
    harness = TaskHarness(stack)
    _lose_next_listing_message(harness)
    assert get_task(task_id).status == TaskStatus.PENDING
    assert invoke_watchdog_later(monkeypatch)["resumed"] == [task_id]
    harness.drain()
    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.deleted == 10


def test_a_listing_step_that_keeps_failing_is_dead_lettered_and_fails_its_task(stack, tenant, engine):
    fill(tenant, 10)

    def listing_throttled(**arguments):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate."}},
                          "ListObjectVersions")

    engine.real = _Replace(engine.real, list_object_versions=listing_throttled, list_objects_v2=listing_throttled)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.FAILED
    assert "a listing step failed repeatedly and was dead-lettered" in (task.last_error or "")
    assert len(tenant.keys()) == 10


def test_a_bucket_missing_in_s3_fails_the_task_at_once_with_the_reason(stack, tenant, engine):
    stack.s3.delete_bucket(Bucket=tenant.bucket.s3_bucket)
    task_id = response_json(purge(tenant))["task"]["id"]
    run = TaskHarness(stack).drain()
    task = get_task(task_id)
    assert task.status == TaskStatus.FAILED
    assert "NoSuchBucket" in (task.last_error or "")
    assert run.dead_letter_invocations == 0


def test_a_refused_delete_call_fails_every_key_of_its_batch_and_the_task(stack, tenant, engine):
    fill(tenant, 10)

    def policy_denies(**arguments):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "DeleteObjects")

    engine.real = _Replace(engine.real, delete_objects=policy_denies)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()
    task = get_task(task_id)
    assert task.status == TaskStatus.FAILED
    assert task.counts.failed == 10 and task.counts.deleted == 0
    assert {failure.code for failure in failures_of(task_id)} == {"AccessDenied"}
    assert len(tenant.keys()) == 10


def test_a_selection_too_large_for_one_task_record_is_refused_before_anything_is_written(stack, tenant, engine):
    from eraser.errors import RequestTooLarge

    keys = [f"{index:04d}" + "k" * 1000 for index in range(400)]
    with pytest.raises(RequestTooLarge):
        create_task(tenant.organization, TaskKind.BULK_DELETE, [tenant.bucket], "test",
                    Selection.keys_and_prefixes(keys=keys))
    assert TaskHarness(stack).queue_depth(stack.queue_url("ListingQueue")) == 0
