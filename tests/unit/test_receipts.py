"""Receipts: a task's manifest (one gzip JSON Lines part per chunk) holds exactly the task's counts under duplicate
delivery, a worker killed between writing its part and counting it, and throttling; the summary lists every part's
SHA-256; GET /v1/tasks/{task_id}/receipt serves them (409 while running, 404 across organizations); synchronous
deletions leave an audit record."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import requests

from eraser import config
from eraser.tasks import TaskStatus, get_task
from eraser.tasks.receipts import REMOVING_OUTCOMES, decode_lines, summary_key
from eraser.tasks.repository import TaskRepository
from tests.openapi_check import assert_matches_openapi
from tests.support import AwsStack, Tenant, api_event, invoke, response_json
from tests.tasks_harness import (
    SimulatedCrash,
    TaskHarness,
    engine_fixture,  # noqa: F401
    fill,
    purge,
    versioned_history,
)
from tests.unit.test_delete_objects import delete_document, md5_header, post

RECEIPT_ROUTE = "/v1/tasks/{task_id}/receipt"


# --- helpers -----------------------------------------------------------------------------------------------------------
def receipts_bucket(stack: AwsStack) -> str:
    return stack.environment["RECEIPTS_BUCKET"]


def stored(stack: AwsStack, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=receipts_bucket(stack), Prefix=prefix) for item in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=receipts_bucket(stack), Key=key)["Body"].read() for key in keys}


def manifest(stack: AwsStack, task_id: str) -> list[dict[str, Any]]:
    return [line for body in stored(stack, f"receipts/{task_id}/parts/").values() for line in decode_lines(body)]


def summary(stack: AwsStack, task_id: str) -> dict[str, Any]:
    return dict(json.loads(stored(stack, summary_key(task_id))[summary_key(task_id)]))


def assert_manifest_is_the_counts(stack: AwsStack, task_id: str) -> list[dict[str, Any]]:
    """The manifest's lines are the task's counts, the summary lists every part with its bytes' SHA-256."""
    task = get_task(task_id)
    lines = manifest(stack, task_id)
    removed = [line for line in lines if line["outcome"] in REMOVING_OUTCOMES]
    assert len(removed) == task.counts.deleted
    assert len(lines) - len(removed) == task.counts.failed
    assert sum(line["size"] for line in removed) == task.counts.bytes_freed
    document = summary(stack, task_id)
    parts = stored(stack, f"receipts/{task_id}/parts/")
    assert {part["key"]: part["sha256"] for part in document["parts"]} == {
        key: hashlib.sha256(body).hexdigest() for key, body in parts.items()}
    assert document["counts"]["lines"] == len(lines) == sum(part["lines"] for part in document["parts"])
    # Per outcome, the lines are the task's counts.outcomes, and the summary says so.
    per_outcome = dict(Counter(line["outcome"] for line in lines))
    assert per_outcome == {name: count for name, count in task.counts.outcomes.items() if count}
    assert document["counts"]["outcomes"] == per_outcome
    return lines


def receipt(tenant: Tenant, task_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = api_event("GET", RECEIPT_ROUTE, {"task_id": task_id}, headers=headers or tenant.headers)
    response = invoke("get_task_receipt", event)
    assert_matches_openapi(response, "GET", RECEIPT_ROUTE)
    return response


# --- the manifest equals the counts ------------------------------------------------------------------------------------
def test_every_chunk_delivered_twice_writes_each_part_once_and_the_manifest_is_the_counts(stack, tenant, engine):
    bucket = tenant.add_bucket("history", versioned=True)
    entries = versioned_history(tenant, bucket, 15)
    task_id = response_json(purge(tenant, "history"))["task"]["id"]
    TaskHarness(stack, duplicate_deliveries=True).drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == entries
    lines = assert_manifest_is_the_counts(stack, task_id)
    assert len({(line["key"], line["version_id"]) for line in lines}) == entries
    assert {line["bucket"] for line in lines} == {bucket.s3_bucket}
    assert len(stored(stack, f"receipts/{task_id}/parts/")) == task.counts.chunks_done


def test_worker_killed_after_writing_its_part_counts_the_part_when_the_chunk_comes_back(
        stack, tenant, engine, monkeypatch):
    """The first delivery of the first chunk is refused one key (AccessDenied), writes its part and dies before
    counting. Its redelivery deletes that key too, but the part stays as written: the chunk is counted from it."""
    keys = fill(tenant, 21)
    refused = {"0003.bin"}
    engine.refuse_key = lambda key: ("AccessDenied", "Access Denied") if key in refused else None
    real_record_chunk = TaskRepository.record_chunk
    crashed: list[int] = []

    def die_before_the_first_count(self, chunk, **counts):
        if not crashed:
            crashed.append(chunk.seq)
            refused.clear()
            raise SimulatedCrash()
        return real_record_chunk(self, chunk, **counts)

    monkeypatch.setattr(TaskRepository, "record_chunk", die_before_the_first_count)
    task_id = response_json(purge(tenant))["task"]["id"]
    harness = TaskHarness(stack)
    harness.drain()

    assert crashed == [0] and harness.run_stats.crashes == 1
    task = get_task(task_id)
    assert task.status == TaskStatus.FAILED
    assert (task.counts.deleted, task.counts.failed) == (len(keys) - 1, 1)
    lines = assert_manifest_is_the_counts(stack, task_id)
    [refusal] = [line for line in lines if line["outcome"] not in REMOVING_OUTCOMES]
    assert (refusal["key"], refusal["outcome"], refusal["code"], refusal["chunk"]) == (
        "0003.bin", "access_denied", "AccessDenied", 0)
    assert summary(stack, task_id)["counts"]["outcomes"] == {"deleted": len(keys) - 1, "access_denied": 1}


def test_throttled_calls_and_keys_leave_no_line_until_deleted_and_the_manifest_is_the_counts(stack, tenant, engine):
    bucket = tenant.add_bucket("busy", versioned=True)
    entries = versioned_history(tenant, bucket, 15)
    engine.slowdown_call_share = 0.3
    engine.retryable_key_share = 0.3
    task_id = response_json(purge(tenant, "busy"))["task"]["id"]
    TaskHarness(stack).drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert engine.count("delete_objects") > task.counts.chunks_done  # throttling happened
    lines = assert_manifest_is_the_counts(stack, task_id)
    assert len(lines) == entries and {line["outcome"] for line in lines} == {"deleted"}


def test_each_line_carries_the_entry_s_own_outcome_held_versions_blocked_by_retention(stack, tenant, engine):
    bucket = tenant.add_bucket("vault", object_lock=True)
    free = fill(tenant, 6, bucket=bucket)
    held = tenant.put("held.bin", b"held", bucket=bucket, ObjectLockLegalHoldStatus="ON")["VersionId"]
    retained = tenant.put("retained.bin", b"kept", bucket=bucket, ObjectLockMode="COMPLIANCE",
                          ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1))["VersionId"]
    task_id = response_json(purge(tenant, "vault"))["task"]["id"]
    TaskHarness(stack, duplicate_deliveries=True).drain()

    lines = assert_manifest_is_the_counts(stack, task_id)
    assert sorted((line["key"], line["outcome"]) for line in lines) == sorted(
        [(key, "deleted") for key in free] + [("held.bin", "blocked_by_retention"),
                                              ("retained.bin", "blocked_by_retention")])
    blocked = {line["version_id"]: line for line in lines if line["outcome"] == "blocked_by_retention"}
    assert set(blocked) == {held, retained} and {line["code"] for line in blocked.values()} == {"AccessDenied"}
    assert all(line["etag"] for line in lines)
    assert sorted(version for _, version, _ in tenant.versions(bucket)) == sorted([held, retained])


def test_a_dry_run_task_writes_no_part_and_its_receipt_is_its_summary_alone(stack, tenant, engine, monkeypatch):
    keys = fill(tenant, 10)
    monkeypatch.setenv("SYNC_DELETE_LIMIT", "3")  # too many to plan within the request: a dry-run task plans it
    config.settings.cache_clear()
    event = api_event("DELETE", "/storage/obj/{bucket}/purge", {"bucket": tenant.bucket.name},
                      headers=tenant.headers, query={"dry_run": "true"})
    task_id = response_json(invoke("purge_bucket", event))["task"]["id"]
    TaskHarness(stack, duplicate_deliveries=True).drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED and task.is_dry_run and task.counts.chunks_done > 0
    assert tenant.keys() == keys
    assert stored(stack, f"receipts/{task_id}/parts/") == {} and stored(stack, "audit/") == {}
    response = receipt(tenant, task_id)
    assert response["statusCode"] == 200
    body = response_json(response)
    assert body["parts"] == [] and body["summary"] == summary(stack, task_id)
    document = body["summary"]
    assert (document["kind"], document["previews"], document["parts"]) == ("dry_run", "purge_bucket", [])
    assert document["counts"]["outcomes"] == {} and document["counts"]["lines"] == document["counts"]["bytes"] == 0


# --- the summary ---------------------------------------------------------------------------------------------------
def test_summary_names_the_actor_the_trigger_the_selection_and_the_times(stack, tenant, engine):
    fill(tenant, 10)
    event = api_event("DELETE", "/storage/obj/{bucket}/purge", {"bucket": tenant.bucket.name},
                      headers=tenant.headers)
    task_id = response_json(invoke("purge_bucket", event))["task"]["id"]
    TaskHarness(stack).drain()

    document = summary(stack, task_id)
    secret = tenant.api_key.rsplit("_", 1)[1]
    assert document["actor"]["type"] == "api_key" and document["actor"]["id"] in tenant.api_key
    assert secret not in json.dumps(document)
    assert document["trigger"] == {"type": "api_request", "id": event["requestContext"]["requestId"]}
    assert document["selection"]["mode"] == "all"
    assert document["status"] == "completed" and document["targets"] == [
        {"bucket_id": tenant.bucket.id, "bucket_name": tenant.bucket.name}]
    assert document["created_at"] <= document["started_at"] <= document["finished_at"]
    assert document["counts"]["outcomes"] == {"deleted": 10} and document["counts"]["bytes"] == 10 * len(b"payload")


# --- the route -----------------------------------------------------------------------------------------------------
def test_receipt_route_serves_the_summary_and_parts_whose_downloads_match_their_sha256(stack, tenant, engine):
    keys = fill(tenant, 20)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()

    response = receipt(tenant, task_id)

    assert response["statusCode"] == 200
    body = response_json(response)
    assert body["task_id"] == task_id and body["summary"] == summary(stack, task_id)
    assert len(body["parts"]) == get_task(task_id).counts.chunks_done > 1
    downloaded: list[dict[str, Any]] = []
    for part in body["parts"]:
        assert part["url"].startswith("https://") and receipts_bucket(stack) in part["url"]
        assert "X-Amz-Signature=" in part["url"] and "X-Amz-Expires=3600" in part["url"]
        content = requests.get(part["url"], timeout=10).content
        assert hashlib.sha256(content).hexdigest() == part["sha256"]
        lines = decode_lines(content)
        assert len(lines) == part["lines"]
        downloaded += lines
    assert sorted(line["key"] for line in downloaded) == keys
    assert {line["etag"] for line in downloaded} == {f'"{hashlib.md5(b"payload").hexdigest()}"'}  # noqa: S324 - S3's
    assert json.loads(requests.get(body["summary_url"], timeout=10).content) == body["summary"]


def test_receipt_of_a_running_task_is_409_task_running_and_writes_nothing(stack, tenant, engine):
    fill(tenant, 5)
    task_id = response_json(purge(tenant))["task"]["id"]

    response = receipt(tenant, task_id)

    assert response["statusCode"] == 409
    assert response_json(response)["error"]["code"] == "task_running"
    assert stored(stack, f"receipts/{task_id}/") == {}


def test_receipt_of_another_organization_s_task_is_404_exactly_as_a_missing_one(stack, tenant, other_tenant, engine):
    fill(tenant, 5)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()
    missing = "task_0000000000000000"

    theirs = receipt(other_tenant, task_id)
    absent = receipt(other_tenant, missing)

    assert theirs["statusCode"] == absent["statusCode"] == 404
    assert response_json(theirs) == json.loads(json.dumps(response_json(absent)).replace(missing, task_id))
    assert response_json(theirs)["error"]["code"] == "task_not_found"


def test_a_summary_the_task_s_end_could_not_write_is_written_by_the_route(stack, tenant, engine, monkeypatch):
    import eraser.tasks.events as events

    fill(tenant, 5)
    monkeypatch.setattr(events.receipts, "write_summary", _failing_write)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()
    assert stored(stack, summary_key(task_id)) == {}
    monkeypatch.undo()

    response = receipt(tenant, task_id)

    assert response["statusCode"] == 200
    assert summary(stack, task_id)["counts"]["outcomes"] == {"deleted": 5}


def _failing_write(task: Any) -> str:
    raise RuntimeError("S3 is down")


def test_task_carries_its_receipt_url_once_finished(stack, tenant, engine):
    fill(tenant, 5)
    task_id = response_json(purge(tenant))["task"]["id"]
    get = api_event("GET", "/v1/tasks/{task_id}", {"task_id": task_id}, headers=tenant.headers)
    before = invoke("get_task", get)
    TaskHarness(stack).drain()
    after = invoke("get_task", get)

    assert_matches_openapi(after, "GET", "/v1/tasks/{task_id}")
    assert response_json(before)["receipt_url"] is None
    assert response_json(after)["receipt_url"] == f"/v1/tasks/{task_id}/receipt"


# --- audit records of synchronous deletions --------------------------------------------------------------------------
def audit_records(stack: AwsStack) -> list[dict[str, Any]]:
    return [json.loads(gzip.decompress(body)) for body in stored(stack, "audit/").values()]


def test_s3_delete_object_leaves_an_audit_record(stack, tenant):
    tenant.put("doc.txt")
    event = api_event("DELETE", "/s3/{bucket}/{key+}", {"bucket": tenant.bucket.name, "key": "doc.txt"},
                      headers=tenant.headers, content_type=None)

    assert invoke("delete_object", event)["statusCode"] == 204

    [record] = audit_records(stack)
    assert record["operation"] == "delete_object"
    assert record["request_id"] == event["requestContext"]["requestId"]
    assert record["actor"]["type"] == "api_key" and record["bucket_id"] == tenant.bucket.id
    assert record["entries"] == [{"key": "doc.txt", "version_id": None, "outcome": "deleted"}]
    assert tenant.keys() == []


def test_synchronous_bulk_delete_leaves_an_audit_record_with_every_key(stack, tenant):
    for key in ("a.txt", "b.txt", "docs/c.txt"):
        tenant.put(key)
    event = api_event("DELETE", "/v1/storage/objects", query={"bucket": tenant.bucket.name},
                      body={"object_keys": ["a.txt", "b.txt"], "path": ["docs/", "none/"]}, headers=tenant.headers)

    assert invoke("bulk_delete", event)["statusCode"] == 200

    [record] = audit_records(stack)
    assert record["operation"] == "bulk_delete" and record["task_id"] is None
    assert record["request_id"] == event["requestContext"]["requestId"]
    # A path that matched nothing is already_absent (docs/dry-run.md's vocabulary), with bulk delete's code for it.
    assert sorted((entry["key"], entry["outcome"], entry.get("code")) for entry in record["entries"]) == [
        ("a.txt", "deleted", None), ("b.txt", "deleted", None), ("docs/c.txt", "deleted", None),
        ("none/", "already_absent", "404")]
    assert tenant.keys() == []


def test_synchronous_bulk_delete_on_a_versioned_bucket_records_the_delete_markers_it_created(stack, tenant):
    bucket = tenant.add_bucket("history", versioned=True)
    for key in ("a.txt", "b.txt"):
        tenant.put(key, bucket=bucket)
    event = api_event("DELETE", "/v1/storage/objects", query={"bucket": "history"},
                      body={"object_keys": ["a.txt", "b.txt"], "path": []}, headers=tenant.headers)

    assert invoke("bulk_delete", event)["statusCode"] == 200

    [record] = audit_records(stack)
    assert sorted((entry["key"], entry["outcome"]) for entry in record["entries"]) == [
        ("a.txt", "delete_marker_created"), ("b.txt", "delete_marker_created")]
    assert len(tenant.versions(bucket)) == 4  # two versions kept under two markers


def test_s3_delete_objects_leaves_an_audit_record_with_each_entry_s_outcome(stack, tenant):
    bucket = tenant.add_bucket("vault", object_lock=True)
    tenant.put("free.txt", bucket=bucket)
    held = tenant.put("held.txt", b"held", bucket=bucket, ObjectLockLegalHoldStatus="ON")["VersionId"]
    body = delete_document(("free.txt", None), ("held.txt", held))

    assert post(tenant, body, md5_header(body), bucket="vault")["statusCode"] == 200

    [record] = audit_records(stack)
    assert record["operation"] == "delete_objects" and record["bucket_id"] == bucket.id
    assert sorted((entry["key"], entry["version_id"], entry["outcome"]) for entry in record["entries"]) == [
        ("free.txt", None, "delete_marker_created"), ("held.txt", held, "blocked_by_retention")]
    assert held in [version for key, version, _ in tenant.versions(bucket) if key == "held.txt"]


def test_without_a_receipts_bucket_nothing_is_written_and_tasks_still_count(stack, tenant, engine, monkeypatch):
    monkeypatch.setenv("RECEIPTS_BUCKET", "")
    config.settings.cache_clear()
    keys = fill(tenant, 10)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()

    assert get_task(task_id).counts.deleted == len(keys)
    assert stored(stack, "") == {}
