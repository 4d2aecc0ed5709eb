"""Each outcome (docs/dry-run.md) on moto, through every deleting path: bulk delete, S3's DeleteObjects, the
deletion loop's retention check, and a purge task's ``counts.outcomes`` under duplicate delivery. Object Lock
buckets are versioned; moto refuses a version under a legal hold or unexpired retention with AccessDenied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from eraser.auth import Principal
from eraser.operations.objects import BulkDeleteRequest, bulk_delete, delete_objects
from eraser.storage import deletion, gateway
from eraser.storage.delete_objects import DeleteObjectsEntry, DeleteObjectsRequest
from eraser.storage.deletion import ObjectTarget, RetryPolicy, S3ObjectStore, delete_versions
from eraser.storage.outcomes import Outcome, zero_counts
from eraser.tasks import TaskStatus, failures_of, get_task
from tests.support import Tenant, api_event, invoke, response_json
from tests.tasks_harness import (
    FaultyS3,
    TaskHarness,
    chunk_records,
    documented,
    engine_fixture,  # noqa: F401
    fill,
    purge,
)
from tests.unit.test_bulk_delete import bulk_delete_call, s3_spy  # noqa: F401
from tests.unit.test_delete_objects import client_of

UNKNOWN_VERSION = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"


def _principal(tenant: Tenant) -> Principal:
    return Principal(organization=tenant.organization, subject="test", credential_id="test",
                     scopes=frozenset({"objects:delete"}))


def _held(tenant: Tenant, bucket: Any, key: str) -> str:
    version: str = tenant.put(key, b"held", bucket=bucket, ObjectLockLegalHoldStatus="ON")["VersionId"]
    return version


def _retained(tenant: Tenant, bucket: Any, key: str) -> str:
    version: str = tenant.put(key, b"kept", bucket=bucket, ObjectLockMode="COMPLIANCE",
                              ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1))["VersionId"]
    return version


# --- bulk delete -----------------------------------------------------------------------------------------------------
def test_bulk_delete_on_an_unversioned_bucket_deletes(tenant):
    tenant.put("a.txt")

    result = bulk_delete(_principal(tenant), "photos", BulkDeleteRequest(object_keys=["a.txt"], path=["none/"]))

    assert result.outcomes == {"a.txt": Outcome.DELETED, "none/": Outcome.ALREADY_ABSENT}
    assert [(error.key, error.error_code) for error in result.errors] == [("none/", "404")]
    assert tenant.keys() == []


def test_bulk_delete_on_a_versioned_bucket_creates_delete_markers_even_over_a_legal_hold(tenant):
    bucket = tenant.add_bucket("vault", object_lock=True)
    tenant.put("plain.txt", bucket=bucket)
    held = _held(tenant, bucket, "held.txt")

    status, document = bulk_delete_call(tenant, {"object_keys": ["plain.txt", "held.txt"], "path": []},
                                        bucket="vault")
    assert status == 200
    assert document["data"]["deleted_objects"] == ["plain.txt", "held.txt"]
    assert document["data"]["errors"] == []

    tenant.put("again.txt", bucket=bucket)
    result = bulk_delete(_principal(tenant), "vault", BulkDeleteRequest(object_keys=["again.txt"], path=[]))
    assert result.outcomes == {"again.txt": Outcome.DELETE_MARKER_CREATED}
    # Every object is still there as a noncurrent version, the held one included.
    versions = tenant.versions(bucket)
    assert sorted(key for key, _, is_marker in versions if not is_marker) == ["again.txt", "held.txt", "plain.txt"]
    assert sorted(key for key, _, is_marker in versions if is_marker) == ["again.txt", "held.txt", "plain.txt"]
    assert ("held.txt", held, False) in versions


def test_bulk_delete_reports_access_denied_and_throttled_beside_deleted(tenant, s3_spy, monkeypatch):  # noqa: F811
    monkeypatch.setattr(deletion, "PER_KEY_RETRY", RetryPolicy(sleep=lambda seconds: None))
    for key in ("a", "denied", "hot"):
        tenant.put(key)
    s3_spy.key_errors.update({"denied": ["AccessDenied"], "hot": ["SlowDown"] * 10})

    result = bulk_delete(_principal(tenant), "photos",
                         BulkDeleteRequest(object_keys=["a", "denied", "hot"], path=[]))

    assert result.outcomes == {"a": Outcome.DELETED, "denied": Outcome.ACCESS_DENIED, "hot": Outcome.THROTTLED}
    assert {error.key: (error.error_code, error.outcome) for error in result.errors} == {
        "denied": ("AccessDenied", Outcome.ACCESS_DENIED), "hot": ("SlowDown", Outcome.THROTTLED)}
    assert tenant.keys() == ["denied", "hot"]


# --- S3 DeleteObjects ----------------------------------------------------------------------------------------------
def test_delete_objects_answers_each_outcome_in_s3_s_own_codes(tenant):
    bucket = tenant.add_bucket("vault", object_lock=True)
    held = _held(tenant, bucket, "held.txt")
    retained = _retained(tenant, bucket, "retained.txt")
    free = tenant.put("free.txt", bucket=bucket)["VersionId"]
    tenant.put("current.txt", bucket=bucket)

    answer = client_of(tenant).delete_objects(Bucket="vault", Delete={"Objects": [
        {"Key": "held.txt", "VersionId": held}, {"Key": "retained.txt", "VersionId": retained},
        {"Key": "free.txt", "VersionId": free}, {"Key": "free.txt", "VersionId": UNKNOWN_VERSION},
        {"Key": "current.txt"}]})

    assert sorted((item["Key"], item["Code"]) for item in answer["Errors"]) == [
        ("held.txt", "AccessDenied"), ("retained.txt", "AccessDenied")]
    deleted = {(item["Key"], item.get("VersionId")): item for item in answer["Deleted"]}
    assert set(deleted) == {("free.txt", free), ("free.txt", UNKNOWN_VERSION), ("current.txt", None)}
    assert "DeleteMarker" not in deleted[("free.txt", UNKNOWN_VERSION)]
    assert deleted[("current.txt", None)]["DeleteMarker"] is True
    versions = tenant.versions(bucket)
    assert ("held.txt", held, False) in versions and ("retained.txt", retained, False) in versions
    assert not any(key == "free.txt" for key, _, _ in versions)


def test_delete_objects_gives_each_entry_its_outcome(tenant):
    bucket = tenant.add_bucket("vault", object_lock=True)
    held = _held(tenant, bucket, "held.txt")
    free = tenant.put("free.txt", bucket=bucket)["VersionId"]
    tenant.put("current.txt", bucket=bucket)

    result = delete_objects(_principal(tenant), DeleteObjectsRequest(bucket="vault", entries=[
        DeleteObjectsEntry("held.txt", held), DeleteObjectsEntry("free.txt", free),
        DeleteObjectsEntry("free.txt", UNKNOWN_VERSION), DeleteObjectsEntry("current.txt")]))

    assert {(entry.key, entry.version_id): entry.outcome for entry in result.deleted} == {
        ("free.txt", free): Outcome.DELETED, ("free.txt", UNKNOWN_VERSION): Outcome.ALREADY_ABSENT,
        ("current.txt", None): Outcome.DELETE_MARKER_CREATED}
    assert [(entry.key, entry.code, entry.outcome) for entry in result.errors] == [
        ("held.txt", "AccessDenied", Outcome.BLOCKED_BY_RETENTION)]
    assert ("held.txt", held, False) in tenant.versions(bucket)


# --- the deletion loop's retention check -----------------------------------------------------------------------------
def test_the_loop_confirms_a_versioned_access_denied_by_a_head_of_the_version(tenant):
    bucket = tenant.add_bucket("vault", object_lock=True)
    held = _held(tenant, bucket, "held.txt")
    retained = _retained(tenant, bucket, "retained.txt")
    refused = tenant.put("policy.txt", bucket=bucket)["VersionId"]
    free = tenant.put("free.txt", bucket=bucket)["VersionId"]
    # A bucket policy refusing one key: moto does not enforce policies, so the refusal is injected.
    s3 = FaultyS3(boto3.client("s3"), refuse_key=lambda key: ("AccessDenied", "Access Denied")
                  if key == "policy.txt" else None)
    store = S3ObjectStore(gateway.open_bucket(bucket.s3_bucket, tenant.organization.account_id, client=s3), "vault")

    outcome = delete_versions(store, [ObjectTarget("held.txt", held), ObjectTarget("retained.txt", retained),
                                      ObjectTarget("policy.txt", refused), ObjectTarget("free.txt", free)])

    assert outcome.outcomes == {ObjectTarget("held.txt", held): Outcome.BLOCKED_BY_RETENTION,
                                ObjectTarget("retained.txt", retained): Outcome.BLOCKED_BY_RETENTION,
                                ObjectTarget("policy.txt", refused): Outcome.ACCESS_DENIED,
                                ObjectTarget("free.txt", free): Outcome.DELETED}
    assert {failure.code for failure in outcome.failed.values()} == {"AccessDenied"}
    headed = sorted(call.arguments["Key"] for call in s3.calls if call.operation == "head_object")
    assert headed == ["held.txt", "policy.txt", "retained.txt"]
    assert sorted(key for key, _, _ in tenant.versions(bucket)) == ["held.txt", "policy.txt", "retained.txt"]


# --- tasks ---------------------------------------------------------------------------------------------------------
def _read(tenant: Tenant, task_id: str) -> dict[str, Any]:
    event = api_event("GET", "/v1/tasks/{task_id}", {"task_id": task_id}, headers=tenant.headers)
    return response_json(documented(invoke("get_task", event), "GET", "/v1/tasks/{task_id}"))


def test_a_purge_counts_held_versions_as_blocked_by_retention_once_under_duplicate_delivery(stack, tenant, engine):
    bucket = tenant.add_bucket("vault", object_lock=True)
    free = fill(tenant, 10, bucket=bucket)
    held = [_held(tenant, bucket, "held.bin"), _held(tenant, bucket, "held.bin"), _held(tenant, bucket, "other.bin")]
    _retained(tenant, bucket, "retained.bin")

    task_id = response_json(purge(tenant, "vault"))["task"]["id"]
    TaskHarness(stack, duplicate_deliveries=True).drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.FAILED
    assert task.counts.outcomes == {**zero_counts(), "deleted": len(free),
                                    "blocked_by_retention": len(held) + 1}
    assert (task.counts.deleted, task.counts.failed) == (len(free), len(held) + 1)
    assert sum(int(record["deleted"]) + int(record["failed"]) for record in chunk_records(stack, task_id)) \
        == task.counts.versions_listed == len(free) + len(held) + 1
    assert {failure.outcome for failure in failures_of(task_id)} == {Outcome.BLOCKED_BY_RETENTION}
    body = _read(tenant, task_id)
    assert body["counts"]["outcomes"] == task.counts.outcomes
    assert {failure["outcome"] for failure in body["failures"]} == {"blocked_by_retention"}
    assert sorted(version for key, version, _ in tenant.versions(bucket) if key != "retained.bin") == sorted(held)
