"""Purging a bucket through the quiva.ai endpoint and the engine: exact counts, nothing outside the target touched,
the bucket empty exactly when the task says so."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from eraser.tasks import TaskStatus, failures_of, get_task
from tests.support import api_event, invoke, response_header, response_json
from tests.tasks_harness import (
    SimulatedCrash,
    TaskHarness,
    assert_owner_on_every_call,
    chunk_records,
    engine_fixture,  # noqa: F401
    fill,
    purge,
    versioned_history,
)


def test_purge_of_unversioned_bucket_of_several_pages_deletes_every_object(stack, tenant, engine):
    keys = [*fill(tenant, 40, prefix="photos/"), "photos/", "empty-dir/"]
    tenant.put("photos/", b"")
    tenant.put("empty-dir/", b"")
    bystander = tenant.add_bucket("keep")
    tenant.put("survivor.txt", b"keep me", bucket=bystander)

    response = purge(tenant)
    assert response["statusCode"] == 200
    body = response_json(response)
    assert body["message"] == "success"
    assert body["task"]["status"] == "pending"

    TaskHarness(stack).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.deleted == len(keys) == task.counts.versions_listed
    assert task.counts.failed == 0
    assert task.counts.bytes_freed == 40 * len(b"payload")
    assert task.bucket_empty_at_end is True
    assert tenant.versions() == []
    assert tenant.keys(bystander) == ["survivor.txt"]
    stack.s3.delete_bucket(Bucket=tenant.bucket.s3_bucket)  # S3 agrees the bucket is empty
    assert_owner_on_every_call(engine, tenant)



def test_purge_of_versioned_bucket_leaves_no_version_and_no_marker(stack, tenant, engine):
    bucket = tenant.add_bucket("archive", versioned=True)
    entries = versioned_history(tenant, bucket, 15)
    bystander = tenant.add_bucket("keep", versioned=True)
    tenant.put("survivor.txt", b"keep me", bucket=bystander)

    body = response_json(purge(tenant, "archive"))
    TaskHarness(stack).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == entries == task.counts.versions_listed
    assert task.counts.objects_listed == 30
    assert task.counts.bytes_freed == 15 * (len(b"v1") + len(b"v2-longer"))
    assert task.bucket_empty_at_end is True
    assert tenant.versions(bucket) == []
    assert [key for key, _, _ in tenant.versions(bystander)] == ["survivor.txt"]
    stack.s3.delete_bucket(Bucket=bucket.s3_bucket)
    assert_owner_on_every_call(engine, tenant)


def test_versioned_purge_of_many_pages_lists_once_although_each_page_is_deleted_before_the_next(stack, tenant,
                                                                                                engine):
    """moto answers an empty page when the version named by VersionIdMarker was deleted meanwhile (S3 does not).
    The lister deletes that version only after the next page was listed, so one pass lists everything even when
    every page's batch is deleted before the next page is listed (deletion batch size 10 here)."""
    bucket = tenant.add_bucket("archive", versioned=True)
    entries = versioned_history(tenant, bucket, 40)  # 106 entries: 16 pages of 7

    body = response_json(purge(tenant, "archive"))
    TaskHarness(stack, deletion_batch_size=10).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == entries == task.counts.versions_listed
    # The verification pass found nothing left.
    assert task.pass_number == 2
    assert all(int(chunk["pass_number"]) == 1 for chunk in chunk_records(stack, task.id))
    assert tenant.versions(bucket) == []


def test_verification_pass_deletes_versions_the_first_pass_missed(stack, tenant, engine):
    """A version deleted behind the lister's back (here: the page's anchor, as another client could) makes moto
    end the listing early; the verification pass lists from the start and deletes what the first pass missed."""
    bucket = tenant.add_bucket("archive", versioned=True)
    entries = versioned_history(tenant, bucket, 12)

    def delete_the_anchor_once(operation, arguments, calls):
        if operation == "list_object_versions" and calls == 1 and arguments.get("MaxKeys") == 7:
            page = engine.real.list_object_versions(**arguments)
            engine.real.delete_object(Bucket=arguments["Bucket"], Key=page["NextKeyMarker"],
                                      VersionId=page["NextVersionIdMarker"])

    engine.after_call = delete_the_anchor_once
    body = response_json(purge(tenant, "archive"))
    TaskHarness(stack).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert any(int(chunk["pass_number"]) >= 2 and int(chunk["deleted"]) for chunk in chunk_records(stack, task.id))
    # The anchor, already gone when its batch ran, is reported deleted by S3 and counted once.
    assert task.counts.deleted == entries == task.counts.versions_listed
    assert tenant.versions(bucket) == []


def test_object_lock_keys_are_reported_never_counted_deleted_and_the_task_fails(stack, tenant, engine):
    bucket = tenant.add_bucket("vault", object_lock=True)
    for index in range(10):
        tenant.put(f"free/{index}.bin", b"payload", bucket=bucket)
    tenant.put("held.bin", b"payload", bucket=bucket, ObjectLockLegalHoldStatus="ON")
    tenant.put("retained.bin", b"payload", bucket=bucket, ObjectLockMode="COMPLIANCE",
               ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1))

    body = response_json(purge(tenant, "vault"))
    TaskHarness(stack).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.FAILED
    assert task.counts.deleted == 10
    assert task.counts.failed == 2
    assert task.bucket_empty_at_end is False
    assert "2 versions could not be deleted" in (task.last_error or "")
    failures = failures_of(task.id)
    assert sorted(failure.key for failure in failures) == ["held.bin", "retained.bin"]
    assert {failure.code for failure in failures} == {"AccessDenied"}
    assert sorted(key for key, _, _ in tenant.versions(bucket)) == ["held.bin", "retained.bin"]


def test_duplicate_delivery_of_every_batch_counts_each_version_once(stack, tenant, engine):
    keys = fill(tenant, 30)
    body = response_json(purge(tenant))
    TaskHarness(stack, duplicate_deliveries=True).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.deleted == len(keys)
    assert task.counts.chunks_done == task.counts.chunks_total
    assert tenant.keys() == []


def test_batch_delete_crashing_after_s3_deleted_is_retried_and_counted_once(stack, tenant, engine):
    keys = fill(tenant, 30)

    def crash_on_second_and_third_call(operation, arguments, calls):
        if operation == "delete_objects" and calls in (2, 3):
            raise SimulatedCrash()

    engine.after_call = crash_on_second_and_third_call
    harness = TaskHarness(stack)
    body = response_json(purge(tenant))
    run = harness.drain()

    task = get_task(body["task"]["id"])
    assert run.crashes == 2
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.deleted == len(keys)
    assert tenant.keys() == []


def test_slowdown_on_calls_and_keys_slows_the_purge_never_corrupts_counts(stack, tenant, engine):
    bucket = tenant.add_bucket("busy", versioned=True)
    entries = versioned_history(tenant, bucket, 12)
    engine.slowdown_call_share = 0.3
    engine.retryable_key_share = 0.3

    body = response_json(purge(tenant, "busy"))
    TaskHarness(stack).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == entries
    assert task.counts.failed == 0
    assert tenant.versions(bucket) == []
    retried = [call for call in engine.calls if call.operation == "delete_objects"]
    assert len(retried) > task.counts.chunks_total


def test_incomplete_multipart_uploads_are_aborted(stack, tenant, engine):
    fill(tenant, 3)
    for index in range(2):
        tenant.s3.create_multipart_upload(Bucket=tenant.bucket.s3_bucket, Key=f"big/{index}.bin")

    body = response_json(purge(tenant))
    TaskHarness(stack).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.uploads_aborted == 2
    assert tenant.s3.list_multipart_uploads(Bucket=tenant.bucket.s3_bucket).get("Uploads", []) == []
    stack.s3.delete_bucket(Bucket=tenant.bucket.s3_bucket)


def test_objects_written_during_a_purge_survive_and_the_task_says_the_bucket_is_not_empty(stack, tenant, engine):
    keys = fill(tenant, 20)
    written: list[str] = []

    def write_during_purge(step: int) -> None:
        if step == 1:
            # S3 stamps LastModified in whole seconds: write in a later second than the purge began.
            time.sleep(1.05)
            for index in range(3):
                tenant.put(f"new/{index}.bin", b"fresh")
                written.append(f"new/{index}.bin")

    body = response_json(purge(tenant))
    TaskHarness(stack, after_listing_step=write_during_purge).drain()

    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.deleted == len(keys)
    assert task.bucket_empty_at_end is False
    assert tenant.keys() == written


def test_purge_with_the_same_idempotency_key_returns_the_same_task(stack, tenant, engine):
    fill(tenant, 3)
    first = response_json(purge(tenant, headers={"Idempotency-Key": "purge-1"}))
    again = purge(tenant, headers={"Idempotency-Key": "purge-1"})
    assert again["statusCode"] == 200
    assert response_json(again)["task"]["id"] == first["task"]["id"]

    TaskHarness(stack).drain()
    after = response_json(purge(tenant, headers={"Idempotency-Key": "purge-1"}))
    assert after["task"] == {"id": first["task"]["id"], "status": "completed"}


def test_same_idempotency_key_with_a_different_request_is_refused(stack, tenant, engine):
    other = tenant.add_bucket("other")
    tenant.put("a.bin", b"x", bucket=other)
    purge(tenant, headers={"Idempotency-Key": "purge-1"})
    refused = purge(tenant, "other", headers={"Idempotency-Key": "purge-1"})
    assert refused["statusCode"] == 409
    assert response_json(refused)["error"] == "conflict"
    assert tenant.keys(other) == ["a.bin"]


def test_second_purge_of_a_bucket_gets_the_running_task(stack, tenant, engine):
    fill(tenant, 3)
    first = response_json(purge(tenant))
    second = response_json(purge(tenant))
    assert second["task"]["id"] == first["task"]["id"]

    TaskHarness(stack).drain()
    third = response_json(purge(tenant))
    assert third["task"]["id"] != first["task"]["id"]


@pytest.mark.parametrize(("headers", "bucket", "status", "code"), [
    ({}, "photos", 401, "unauthorized"),
    ({"X-Api-Key": "erk_nope_nope"}, "photos", 401, "unauthorized"),
    (None, "missing", 404, "not_found"),
    (None, "photos", 400, "validation_error"),
])
def test_purge_refusals_delete_nothing(stack, tenant, engine, headers, bucket, status, code):
    fill(tenant, 2)
    if headers is None:
        headers = {**tenant.headers, "Idempotency-Key": "x" * 300} if bucket == "photos" else tenant.headers
    event = api_event("DELETE", "/storage/obj/{bucket}/purge", {"bucket": bucket}, headers=headers)
    response = invoke("purge_bucket", event)
    assert response["statusCode"] == status
    assert response_json(response)["error"] == code
    TaskHarness(stack).drain()
    assert len(tenant.keys()) == 2


def test_purge_needs_the_buckets_purge_scope(stack, tenant, engine):
    fill(tenant, 2)
    api_key = tenant.key_with_scopes("tasks:read")
    event = api_event("DELETE", "/storage/obj/{bucket}/purge", {"bucket": "photos"}, headers={"X-Api-Key": api_key})
    response = invoke("purge_bucket", event)
    assert response["statusCode"] == 403
    assert len(tenant.keys()) == 2


def test_another_organizations_bucket_is_not_found(stack, tenant, other_tenant, engine):
    fill(other_tenant, 2)
    response = purge(tenant, other_tenant.bucket.name + "-x")
    assert response["statusCode"] == 404
    event = api_event("DELETE", "/storage/obj/{bucket}/purge", {"bucket": other_tenant.bucket.id},
                      headers=tenant.headers)
    assert invoke("purge_bucket", event)["statusCode"] == 404
    assert len(other_tenant.keys()) == 2


def test_running_purge_answers_with_retry_after(stack, tenant, engine):
    fill(tenant, 2)
    response = purge(tenant)
    assert response_header(response, "Retry-After").isdigit()



def test_keys_xml_cannot_carry_are_deleted_one_by_one(stack, tenant, engine):
    """moto's ListObjectVersions fails (500) on such keys, so this drives the worker's deletion directly."""
    from eraser.tasks.model import ChunkEntry
    from eraser.tasks.worker import delete_entries

    keys = [*fill(tenant, 3), "bell\x07key", "line\rbreak"]
    for key in keys[3:]:
        tenant.put(key, b"x")
    outcome = delete_entries(tenant.bucket.s3_bucket, tenant.organization.account_id,
                             [ChunkEntry(k=key, v="null", s=1) for key in keys], client=engine)
    assert sorted(entry.k for entry in outcome.deleted) == sorted(keys)
    assert outcome.failures == []
    assert tenant.keys() == []
    assert engine.count("delete_object") == 2
    assert_owner_on_every_call(engine, tenant)


def test_a_chunk_whose_bucket_vanished_fails_every_key_with_no_such_bucket(stack, tenant, engine):
    """A task's chunk outlives the request: S3's NoSuchBucket fails each key (counted once), it is not a 404."""
    from botocore.exceptions import ClientError

    from eraser.tasks.model import ChunkEntry
    from eraser.tasks.worker import delete_entries

    def bucket_gone(**arguments):
        raise ClientError({"Error": {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist"}},
                          "DeleteObjects")

    engine.real = type("Gone", (), {"delete_objects": staticmethod(bucket_gone)})()
    entries = [ChunkEntry(k="a", s=1), ChunkEntry(k="b", v="null", s=2)]
    outcome = delete_entries(tenant.bucket.s3_bucket, tenant.organization.account_id, entries, client=engine)
    assert outcome.deleted == []
    assert [(failure.key, failure.version_id, failure.code) for failure in outcome.failures] == [
        ("a", None, "NoSuchBucket"), ("b", "null", "NoSuchBucket")]


def test_answers_that_leave_the_version_id_out_are_matched_to_the_requested_versions():
    """SeaweedFS names a removed delete marker only as DeleteMarkerVersionId and answers a `null` version without
    VersionId; moto leaves it out of an Object Lock error. Each entry is still answered once, as S3 would."""
    from eraser.tasks.model import ChunkEntry
    from eraser.tasks.worker import delete_entries

    class VagueS3:
        def delete_objects(self, **arguments):
            return {"Deleted": [{"Key": "k", "DeleteMarker": True, "DeleteMarkerVersionId": "marker"},
                                {"Key": "n"}],
                    "Errors": [{"Key": "k", "Code": "AccessDenied", "Message": "Object Lock"}]}

        def head_object(self, **arguments):
            # The refused version shows no lock: its AccessDenied is not taken for retention from the message.
            return {"VersionId": arguments["VersionId"]}

    entries = [ChunkEntry(k="k", v="locked", s=1), ChunkEntry(k="k", v="marker", s=0), ChunkEntry(k="n", v="null", s=2)]
    outcome = delete_entries("bucket", "123456789012", entries, client=VagueS3())
    assert [(entry.k, entry.v) for entry in outcome.deleted] == [("k", "marker"), ("n", "null")]
    assert [(failure.key, failure.version_id, failure.code, failure.outcome) for failure in outcome.failures] == [
        ("k", "locked", "AccessDenied", "access_denied")]
    assert outcome.outcomes == {"deleted": 2, "access_denied": 1}


@pytest.mark.parametrize("code", ["SlowDown", "503", "InternalError"])
def test_a_chunk_whose_calls_stay_throttled_is_left_to_sqs_with_nothing_counted(stack, tenant, engine, code):
    from botocore.exceptions import ClientError

    from eraser.config import engine_settings
    from eraser.tasks.model import ChunkEntry
    from eraser.tasks.worker import KeysStillThrottled, delete_entries

    calls: list[str] = []

    def throttled(**arguments):
        calls.append(arguments["Delete"]["Objects"][0]["Key"])
        raise ClientError({"Error": {"Code": code, "Message": "Please reduce your request rate."}}, "DeleteObjects")

    keys = fill(tenant, 3)
    engine.real = type("Throttled", (), {"delete_objects": staticmethod(throttled)})()
    with pytest.raises(KeysStillThrottled):
        delete_entries(tenant.bucket.s3_bucket, tenant.organization.account_id,
                       [ChunkEntry(k=key, s=1) for key in keys], client=engine)
    assert len(calls) == engine_settings().key_retry_attempts
    assert tenant.keys() == keys


def test_a_small_purge_finishing_within_the_wait_budget_answers_completed(stack, tenant, engine, monkeypatch):
    import threading

    from eraser import config

    monkeypatch.setenv("PURGE_WAIT_SECONDS", "15")
    config.settings.cache_clear()
    fill(tenant, 5)
    harness = TaskHarness(stack)
    stop = threading.Event()

    def workers() -> None:
        while not stop.is_set():
            if not harness.step():
                stop.wait(0.05)

    thread = threading.Thread(target=workers, daemon=True)
    thread.start()
    try:
        response = purge(tenant)
    finally:
        stop.set()
        thread.join()
    assert response_json(response)["task"]["status"] == "completed"
    assert response_header(response, "Retry-After") is None
    assert tenant.keys() == []


def test_a_bucket_that_never_had_versioning_is_listed_with_list_objects_v2(stack, tenant, engine):
    keys = fill(tenant, 20)
    body = response_json(purge(tenant))
    TaskHarness(stack).drain()
    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.deleted == len(keys)
    assert engine.count("list_objects_v2") >= 3
    # Only the emptiness check lists versions.
    assert [call.arguments.get("MaxKeys") for call in engine.calls if call.operation == "list_object_versions"] == [1]
    assert sizes_of_delete_calls(engine) == [7, 7, 6]


def test_a_bucket_with_suspended_versioning_is_listed_with_its_versions(stack, tenant, engine):
    bucket = tenant.add_bucket("suspended", versioned=True)
    for index in range(5):
        tenant.put(f"k{index}", b"old", bucket=bucket)
    stack.s3.put_bucket_versioning(Bucket=bucket.s3_bucket, VersioningConfiguration={"Status": "Suspended"})
    for index in range(5):
        tenant.put(f"k{index}", b"null version", bucket=bucket)
    entries = len(tenant.versions(bucket))
    body = response_json(purge(tenant, "suspended"))
    TaskHarness(stack).drain()
    task = get_task(body["task"]["id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == entries
    assert engine.count("list_objects_v2") == 0
    assert tenant.versions(bucket) == []


def sizes_of_delete_calls(engine) -> list[int]:
    return [len(call.arguments["Delete"]["Objects"]) for call in engine.calls if call.operation == "delete_objects"]
