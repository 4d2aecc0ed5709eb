"""Bulk delete (Seahorse) over the synchronous limit: answered 202 with a bulk_delete task that the engine runs to
the end, deleting the named keys and everything under the paths, and nothing else."""

from __future__ import annotations

import pytest

from eraser import config
from eraser.storage import deletion
from eraser.tasks import TaskStatus, get_task
from tests.s3_faults import CountdownContext, throttled_s3
from tests.support import api_event, invoke, response_header, response_json
from tests.tasks_harness import (
    TaskHarness,
    documented,
    engine_fixture,  # noqa: F401
    fill,
)

ROUTE = "/v1/storage/objects"


@pytest.fixture
def sync_limit(stack, monkeypatch):
    monkeypatch.setenv("SYNC_DELETE_LIMIT", "5")
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def bulk_delete(tenant, body: dict) -> dict:
    event = api_event("DELETE", ROUTE, query={"bucket": tenant.bucket.name}, body=body, headers=tenant.headers)
    return documented(invoke("bulk_delete", event), "DELETE", ROUTE)


def test_bulk_delete_over_the_limit_runs_as_a_task_to_the_end(stack, tenant, engine, sync_limit):
    fill(tenant, 20, prefix="big/")
    fill(tenant, 3, prefix="big-old/")
    for key in ("a.txt", "b.txt", "keep.txt"):
        tenant.put(key, b"x")

    response = bulk_delete(tenant, {"object_keys": ["a.txt", "b.txt", "big/0001.bin"], "path": ["big"]})
    assert response["statusCode"] == 202
    body = response_json(response)
    task_id = body["data"]["task"]["id"]
    assert response_header(response, "Location") == f"/v1/tasks/{task_id}"
    assert response_header(response, "Retry-After").isdigit()
    assert len(tenant.keys()) == 26  # nothing deleted synchronously

    TaskHarness(stack).drain()

    task = get_task(task_id)
    assert task.kind.value == "bulk_delete"
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == 22  # a.txt, b.txt and the 20 objects under big/ (big/0001.bin once)
    assert task.requested_by.startswith("key:")
    assert tenant.keys() == ["big-old/0000.bin", "big-old/0001.bin", "big-old/0002.bin", "keep.txt"]


def test_bulk_delete_task_on_a_versioned_bucket_adds_delete_markers(stack, tenant, engine, sync_limit):
    bucket = tenant.add_bucket("versioned", versioned=True)
    fill(tenant, 8, prefix="dir/", bucket=bucket)
    event = api_event("DELETE", ROUTE, query={"bucket": "versioned"}, body={"object_keys": [], "path": ["dir"]},
                      headers=tenant.headers)
    response = documented(invoke("bulk_delete", event), "DELETE", ROUTE)
    assert response["statusCode"] == 202
    TaskHarness(stack).drain()

    task = get_task(response_json(response)["data"]["task"]["id"])
    assert task.status == TaskStatus.COMPLETED
    assert task.counts.deleted == 8
    assert tenant.keys(bucket) == []
    # Soft delete, as the synchronous path: every version is kept under a delete marker (trash can restore it).
    versions = tenant.versions(bucket)
    assert sum(1 for _, _, marker in versions if marker) == 8
    assert sum(1 for _, _, marker in versions if not marker) == 8


def test_a_bulk_delete_task_polled_in_either_form_carries_retry_after_until_it_ends(stack, tenant, engine,
                                                                                   sync_limit):
    fill(tenant, 20, prefix="big/")
    task_id = response_json(bulk_delete(tenant, {"object_keys": [], "path": ["big"]}))["data"]["task"]["id"]
    forms = {"/v1/tasks/{task_id}": "get_task", "/tasks/{task_id}": "get_task_katapult"}

    def poll_every_form() -> list[dict]:
        return [documented(invoke(function, api_event("GET", route, {"task_id": task_id}, headers=tenant.headers)),
                           "GET", route) for route, function in forms.items()]

    for response in poll_every_form():
        assert 1 <= int(response_header(response, "Retry-After")) <= 30, response["body"]
    harness = TaskHarness(stack)
    harness.step()
    assert get_task(task_id).status == TaskStatus.RUNNING
    for response in poll_every_form():
        assert 1 <= int(response_header(response, "Retry-After")) <= 30, response["body"]

    harness.drain()
    assert get_task(task_id).status == TaskStatus.COMPLETED
    for response in poll_every_form():
        assert response_header(response, "Retry-After") is None
    assert not any(key.startswith("big/") for key in tenant.keys())


# --- synchronous requests that ran out of time -------------------------------------------------------------------------
def bulk_delete_in(tenant, body: dict, context) -> dict:
    event = api_event("DELETE", ROUTE, query={"bucket": tenant.bucket.name}, body=body, headers=tenant.headers)
    return documented(invoke("bulk_delete", event, context), "DELETE", ROUTE)


def test_keys_left_when_time_ran_out_are_deleted_by_the_task_and_counted_once(stack, tenant, engine, monkeypatch):
    keys = [f"k{number:02}" for number in range(12)]
    for key in [*keys, "keep.txt", "k-other"]:
        tenant.put(key, b"x")
    clock = CountdownContext(28_000)
    monkeypatch.setattr(deletion, "PER_KEY_RETRY", deletion.RetryPolicy(sleep=clock.advance))

    with throttled_s3(tenant.s3, clock, monkeypatch, call_seconds=6.0, throttled_keys=set(keys[::3])):
        response = bulk_delete_in(tenant, {"object_keys": keys, "path": []}, clock)

    assert response["statusCode"] == 202
    data = response_json(response)["data"]
    synchronous = [key for key in keys if key not in keys[::3]]
    assert data["deleted_objects"] == synchronous and data["errors"] == []
    assert tenant.keys() == sorted([*keys[::3], "k-other", "keep.txt"])

    TaskHarness(stack).drain()

    task = get_task(data["task"]["id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    # The answer and the task together account for every key exactly once.
    assert task.counts.deleted == len(keys[::3])
    assert data["deleted_object_count"] + task.counts.deleted == len(keys)
    assert tenant.keys() == ["k-other", "keep.txt"]


def test_listing_throttled_past_the_deadline_becomes_a_task_that_deletes_the_paths(stack, tenant, engine,
                                                                                   monkeypatch):
    fill(tenant, 15, prefix="big/")
    fill(tenant, 2, prefix="big-old/")
    tenant.put("a.txt", b"x")
    clock = CountdownContext(28_000)

    with throttled_s3(tenant.s3, clock, monkeypatch, slow_down_operations={"ListObjectsV2"}):
        response = bulk_delete_in(tenant, {"object_keys": ["a.txt"], "path": ["big"]}, clock)

    assert response["statusCode"] == 202
    assert response_json(response)["data"]["deleted_object_count"] == 0
    assert len(tenant.keys()) == 18

    TaskHarness(stack).drain()

    task = get_task(response_json(response)["data"]["task"]["id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.counts.deleted == 16
    assert tenant.keys() == ["big-old/0000.bin", "big-old/0001.bin"]
