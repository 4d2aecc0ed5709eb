"""Reading and cancelling tasks (Mixpeek): progress, Retry-After while running, 404 across organizations, cancel at
the next batch boundary with the counts so far, 409 for a finished task."""

from __future__ import annotations

from eraser.storage.outcomes import Outcome
from eraser.tasks import TaskStatus, get_task
from tests.support import api_event, dynamodb_key_limits, invoke, response_header, response_json
from tests.tasks_harness import (
    TaskHarness,
    documented,
    engine_fixture,  # noqa: F401
    fill,
    purge,
)


def read(tenant, task_id: str, headers: dict[str, str] | None = None) -> dict:
    event = api_event("GET", "/v1/tasks/{task_id}", {"task_id": task_id}, headers=headers or tenant.headers)
    return documented(invoke("get_task", event), "GET", "/v1/tasks/{task_id}")


def cancel(tenant, task_id: str, headers: dict[str, str] | None = None) -> dict:
    event = api_event("POST", "/v1/tasks/{task_id}/cancel", {"task_id": task_id}, headers=headers or tenant.headers)
    return documented(invoke("cancel_task", event), "POST", "/v1/tasks/{task_id}/cancel")


def test_running_task_reads_in_mixpeek_form_with_progress_and_retry_after(stack, tenant, engine):
    fill(tenant, 30)
    task_id = response_json(purge(tenant))["task"]["id"]
    harness = TaskHarness(stack)
    for _ in range(3):
        harness.step()

    response = read(tenant, task_id)
    assert response["statusCode"] == 200
    body = response_json(response)
    assert body["task_id"] == task_id
    assert body["task_type"] == "purge_bucket"
    assert body["status"] == "IN_PROGRESS"
    assert body["bucket_name"] == "photos"
    assert 0 < body["progress"]["fraction"] < 1
    assert body["progress"]["objects_deleted"] == get_task(task_id).counts.deleted > 0
    assert body["progress"]["listing_complete"] is False
    assert 1 <= int(response_header(response, "Retry-After")) <= 30

    harness.drain()
    finished = read(tenant, task_id)
    body = response_json(finished)
    assert body["status"] == "COMPLETED"
    assert body["progress"]["fraction"] == 1.0
    assert body["progress"]["percent"] == 100
    assert body["counts"]["deleted"] == 30
    assert body["finished_at"] is not None
    assert body["failures"] == []
    assert response_header(finished, "Retry-After") is None


def test_failed_task_shows_its_failure_sample(stack, tenant, engine):
    fill(tenant, 4)
    engine.refuse_key = lambda key: ("AccessDenied", "Access Denied") if key.startswith("0001") else None
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()

    body = response_json(read(tenant, task_id))
    assert body["status"] == "FAILED"
    assert body["counts"]["failed"] == 1
    assert body["counts"]["outcomes"] == {**{outcome.value: 0 for outcome in Outcome}, "deleted": 3,
                                          "access_denied": 1}
    assert body["failures"] == [{"key": "0001.bin", "version_id": None, "code": "AccessDenied",
                                 "message": "Access Denied", "outcome": "access_denied"}]
    assert "could not be deleted" in body["error_message"]
    assert tenant.keys() == ["0001.bin"]


def test_another_organizations_task_is_not_found(stack, tenant, other_tenant, engine):
    fill(tenant, 2)
    task_id = response_json(purge(tenant))["task"]["id"]
    response = read(other_tenant, task_id)
    assert response["statusCode"] == 404
    assert response_json(response)["error"]["code"] == "task_not_found"
    assert cancel(other_tenant, task_id)["statusCode"] == 404
    assert get_task(task_id).status == TaskStatus.PENDING


def test_unknown_task_is_not_found(stack, tenant, engine):
    assert read(tenant, "task_doesnotexist")["statusCode"] == 404


def test_a_task_id_too_long_for_a_dynamodb_key_is_not_found_not_a_server_error(stack, tenant, engine):
    # DynamoDB refuses such a key with a ValidationException; moto does not, so the limits are enforced here.
    task_id = "t" * 3000
    with dynamodb_key_limits():
        for response in (read(tenant, task_id), cancel(tenant, task_id)):
            assert response["statusCode"] == 404
            assert response_json(response)["error"]["code"] == "task_not_found"


def test_reading_needs_the_tasks_read_scope(stack, tenant, engine):
    fill(tenant, 1)
    task_id = response_json(purge(tenant))["task"]["id"]
    response = read(tenant, task_id, headers={"X-Api-Key": tenant.key_with_scopes("buckets:purge")})
    assert response["statusCode"] == 403


def test_cancel_stops_at_the_next_batch_with_the_counts_so_far(stack, tenant, engine):
    keys = fill(tenant, 40)
    task_id = response_json(purge(tenant))["task"]["id"]
    harness = TaskHarness(stack)
    for _ in range(3):
        harness.step()

    response = cancel(tenant, task_id)
    assert response["statusCode"] == 200
    assert response_json(response)["status"] == "CANCELED"
    harness.drain()

    task = get_task(task_id)
    assert task.status == TaskStatus.CANCELLED
    remaining = tenant.keys()
    assert remaining, "the cancelled purge went on deleting"
    assert task.counts.deleted == len(keys) - len(remaining)
    assert response_header(read(tenant, task_id), "Retry-After") is None


def test_cancelling_a_finished_task_is_a_conflict(stack, tenant, engine):
    fill(tenant, 2)
    task_id = response_json(purge(tenant))["task"]["id"]
    TaskHarness(stack).drain()
    response = cancel(tenant, task_id)
    assert response["statusCode"] == 409
    assert get_task(task_id).status == TaskStatus.COMPLETED


def test_cancelling_needs_the_tasks_cancel_scope(stack, tenant, engine):
    fill(tenant, 2)
    task_id = response_json(purge(tenant))["task"]["id"]
    response = cancel(tenant, task_id, headers={"X-Api-Key": tenant.key_with_scopes("tasks:read")})
    assert response["statusCode"] == 403
    assert get_task(task_id).status == TaskStatus.PENDING
