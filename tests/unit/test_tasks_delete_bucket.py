"""Deleting a bucket (Mixpeek): answered at once with a task that empties the bucket, cancels the bucket's other
tasks, removes the S3 bucket and the bucket's records, and ends COMPLETED or FAILED with a reason."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from eraser import config
from eraser.clock import utc_now
from eraser.errors import BucketNotFound
from eraser.tasks import Selection, TaskKind, TaskStatus, create_task, get_task
from eraser.tenancy import TenancyRepository
from tests.support import api_event, invoke, response_header, response_json
from tests.tasks_harness import (
    TaskHarness,
    assert_owner_on_every_call,
    documented,
    engine_fixture,  # noqa: F401
    fill,
)


def delete_bucket(tenant, identifier: str, headers: dict[str, str] | None = None) -> dict:
    event = api_event("DELETE", "/v1/buckets/{bucket_identifier}", {"bucket_identifier": identifier},
                      headers={**tenant.headers, **(headers or {})})
    return documented(invoke("delete_bucket", event), "DELETE", "/v1/buckets/{bucket_identifier}")


def bucket_exists(tenant, s3_bucket: str) -> bool:
    try:
        tenant.s3.head_bucket(Bucket=s3_bucket)
        return True
    except ClientError:
        return False


@pytest.mark.parametrize("by", ["name", "id"])
def test_delete_bucket_answers_at_once_then_removes_objects_bucket_and_records(stack, tenant, engine, by):
    bucket = tenant.add_bucket("doomed", versioned=True)
    keys = fill(tenant, 12, bucket=bucket)
    tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key=keys[0])
    tenant.s3.create_multipart_upload(Bucket=bucket.s3_bucket, Key="partial.bin")
    fill(tenant, 3)  # the tenant's other bucket

    response = delete_bucket(tenant, bucket.name if by == "name" else bucket.id)
    assert response["statusCode"] == 200
    body = response_json(response)
    assert body["status"] == "PENDING"
    assert body["bucket_id"] == bucket.id
    assert body["bucket_name"] == "doomed"
    assert body["object_count"] == 11
    assert response_header(response, "Retry-After").isdigit()

    TaskHarness(stack).drain()

    task = get_task(body["task_id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == 13  # 12 versions and one delete marker
    assert task.counts.uploads_aborted == 1
    assert task.bucket_deleted is True
    assert not bucket_exists(tenant, bucket.s3_bucket)
    with pytest.raises(BucketNotFound):
        TenancyRepository().find_bucket(tenant.organization.id, "doomed")
    assert len(tenant.keys()) == 3
    assert_owner_on_every_call(engine, tenant)


def test_object_count_is_null_beyond_one_listing_page(stack, tenant, engine, monkeypatch):
    monkeypatch.setattr("eraser.operations.buckets.OBJECT_COUNT_CAP", 5)
    fill(tenant, 6)
    body = response_json(delete_bucket(tenant, "photos"))
    assert body["object_count"] is None


def test_bucket_with_locked_objects_is_kept_and_the_task_fails_with_the_reason(stack, tenant, engine):
    bucket = tenant.add_bucket("vault", object_lock=True)
    fill(tenant, 5, bucket=bucket)
    tenant.put("held.bin", b"x", bucket=bucket, ObjectLockLegalHoldStatus="ON")

    body = response_json(delete_bucket(tenant, "vault"))
    TaskHarness(stack).drain()

    task = get_task(body["task_id"])
    assert task.status == TaskStatus.FAILED
    assert task.counts.deleted == 5
    assert task.counts.failed == 1
    assert "the bucket was not deleted" in (task.last_error or "")
    assert bucket_exists(tenant, bucket.s3_bucket)
    assert TenancyRepository().find_bucket(tenant.organization.id, "vault").id == bucket.id
    assert [key for key, _, _ in tenant.versions(bucket)] == ["held.bin"]


def test_bucket_that_keeps_receiving_writes_fails_instead_of_looping(stack, tenant, engine, monkeypatch):
    monkeypatch.setenv("MAX_PASSES", "3")
    config.settings.cache_clear()
    fill(tenant, 10)

    def write_after_every_step(step: int) -> None:
        tenant.put(f"incoming/{step}.bin", b"x")

    body = response_json(delete_bucket(tenant, "photos"))
    TaskHarness(stack, after_listing_step=write_after_every_step).drain()

    task = get_task(body["task_id"])
    assert task.status == TaskStatus.FAILED
    assert task.pass_number == 3
    assert "kept receiving writes" in (task.last_error or "")
    assert task.bucket_empty_at_end is False
    assert bucket_exists(tenant, tenant.bucket.s3_bucket)
    # Every version the task listed was deleted and counted; what is left arrived after its last listing.
    assert task.counts.deleted == task.counts.versions_listed
    assert tenant.keys()
    assert all(key.startswith("incoming/") for key in tenant.keys())


def test_delete_bucket_cancels_the_buckets_other_running_tasks(stack, tenant, engine):
    bucket = tenant.add_bucket("shared", versioned=True)
    fill(tenant, 20, bucket=bucket)
    other = create_task(tenant.organization, TaskKind.TRASH_PURGE, [bucket], "test",
                        Selection.trash(superseded_before=utc_now()))
    unrelated = create_task(tenant.organization, TaskKind.TRASH_PURGE, [tenant.bucket], "test",
                            Selection.trash(superseded_before=utc_now()))

    body = response_json(delete_bucket(tenant, "shared"))
    TaskHarness(stack).drain()

    assert get_task(body["task_id"]).status == TaskStatus.COMPLETED
    assert get_task(other.id).status == TaskStatus.CANCELLED
    assert "being deleted" in (get_task(other.id).last_error or "")
    assert get_task(unrelated.id).status == TaskStatus.COMPLETED


def test_second_delete_request_gets_the_running_task(stack, tenant, engine):
    fill(tenant, 3)
    first = response_json(delete_bucket(tenant, "photos"))
    second = response_json(delete_bucket(tenant, "photos"))
    assert second["task_id"] == first["task_id"]


def test_unknown_bucket_is_a_mixpeek_404_and_deletes_nothing(stack, tenant, other_tenant, engine):
    fill(other_tenant, 2)
    response = delete_bucket(tenant, other_tenant.bucket.id)
    assert response["statusCode"] == 404
    body = response_json(response)
    assert body["success"] is False
    assert body["error"]["type"] == "NotFoundError"
    TaskHarness(stack).drain()
    assert len(other_tenant.keys()) == 2


@pytest.mark.parametrize("key", ["k" * 256, "", " ", " k", "k\n", "k\x00", "ключ"],
                         ids=["256 characters", "empty", "a space", "leading space", "newline", "NUL", "not ASCII"])
def test_invalid_idempotency_key_is_a_422(stack, tenant, engine, key):
    fill(tenant, 2)
    response = delete_bucket(tenant, "photos", headers={"Idempotency-Key": key})
    assert response["statusCode"] == 422
    assert response_json(response)["detail"][0]["loc"] == ["header", "idempotency-key"]
    TaskHarness(stack).drain()
    assert len(tenant.keys()) == 2


def test_same_idempotency_key_for_purge_then_delete_is_refused(stack, tenant, engine):
    from tests.tasks_harness import purge

    fill(tenant, 2)
    purge(tenant, headers={"Idempotency-Key": "op-1"})
    response = delete_bucket(tenant, "photos", headers={"Idempotency-Key": "op-1"})
    assert response["statusCode"] == 409
    assert response_json(response)["error"]["code"] == "idempotency_key_reused"


def test_delete_needs_the_buckets_delete_scope(stack, tenant, engine):
    fill(tenant, 2)
    event = api_event("DELETE", "/v1/buckets/{bucket_identifier}", {"bucket_identifier": "photos"},
                      headers={"X-Api-Key": tenant.key_with_scopes("buckets:purge")})
    response = invoke("delete_bucket", event)
    assert response["statusCode"] == 403
    assert response_json(response)["error"]["code"] == "scope_not_granted"
    assert len(tenant.keys()) == 2


def test_delete_request_supersedes_a_running_exclusive_trash_purge(stack, tenant, engine):
    bucket = tenant.add_bucket("binned", versioned=True)
    fill(tenant, 5, bucket=bucket)
    trash = create_task(tenant.organization, TaskKind.TRASH_PURGE, [bucket], "schedule:trash",
                        Selection.trash(superseded_before=utc_now()), exclusive=True)

    body = response_json(delete_bucket(tenant, "binned"))
    assert body["task_id"] != trash.id
    assert get_task(trash.id).status == TaskStatus.CANCELLED
    assert "superseded" in (get_task(trash.id).last_error or "")
    TaskHarness(stack).drain()
    assert get_task(body["task_id"]).status == TaskStatus.COMPLETED
    assert not bucket_exists(tenant, bucket.s3_bucket)


def test_purge_request_while_the_bucket_is_being_deleted_gets_the_deletion(stack, tenant, engine):
    from tests.tasks_harness import purge

    fill(tenant, 5)
    deletion = response_json(delete_bucket(tenant, "photos"))
    assert response_json(purge(tenant))["task"]["id"] == deletion["task_id"]


def test_deleting_a_bucket_already_gone_from_s3_removes_its_records(stack, tenant, engine):
    bucket = tenant.add_bucket("vanished")
    stack.s3.delete_bucket(Bucket=bucket.s3_bucket)
    body = response_json(delete_bucket(tenant, "vanished"))
    TaskHarness(stack).drain()
    task = get_task(body["task_id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == 0
    with pytest.raises(BucketNotFound):
        TenancyRepository().find_bucket(tenant.organization.id, "vanished")
