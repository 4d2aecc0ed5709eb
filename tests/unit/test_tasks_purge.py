"""Purging a bucket through the quiva.ai endpoint and the engine: exact counts, nothing outside the target touched,
the bucket empty exactly when the task says so."""

from __future__ import annotations

from eraser.tasks import TaskStatus, get_task
from tests.support import response_json
from tests.tasks_harness import (
    TaskHarness,
    assert_owner_on_every_call,
    engine_fixture,  # noqa: F401
    fill,
    purge,
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
