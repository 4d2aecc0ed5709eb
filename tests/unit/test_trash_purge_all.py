"""POST /organizations/organization/trash_objects/purge_all (Katapult) and GET /tasks/{id}: one task purges the trash
of every trash-enabled bucket of the caller's organization as of its creation, and nothing else."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

import boto3
import moto.s3.models
import pytest
from botocore.exceptions import ClientError

from eraser import aws
from eraser.tasks import TaskStatus, get_task
from eraser.tenancy import BucketConfiguration, OrganizationStatus, TenancyRepository
from tests.openapi_check import assert_matches_openapi
from tests.support import api_event, invoke, response_header, response_json
from tests.tasks_harness import TaskHarness, assert_owner_on_every_call, engine_fixture  # noqa: F401

TRASH_ON = BucketConfiguration(trash_enabled=True)
PURGE_ALL = "/organizations/organization/trash_objects/purge_all"
_REAL_MOTO_NOW = moto.s3.models.utcnow


@contextlib.contextmanager
def s3_clock(offset: timedelta):
    """Whatever S3 (moto) writes inside gets a LastModified shifted by ``offset``: trash of the past or future."""
    original = moto.s3.models.utcnow
    moto.s3.models.utcnow = lambda: _REAL_MOTO_NOW() + offset
    try:
        yield
    finally:
        moto.s3.models.utcnow = original


def purge_all(tenant, body=None, headers=None):
    body = {"organization": {"id": tenant.organization.id}} if body is None else body
    event = api_event("POST", PURGE_ALL, headers=tenant.headers if headers is None else headers, body=body)
    response = invoke("trash_purge_all", event)
    assert_matches_openapi(response, "POST", PURGE_ALL)
    return response


def katapult_task(tenant, task_id, headers=None):
    event = api_event("GET", "/tasks/{task_id}", {"task_id": task_id}, headers=headers or tenant.headers)
    response = invoke("get_task_katapult", event)
    assert_matches_openapi(response, "GET", "/tasks/{task_id}")
    return response


def trash(tenant, bucket, key):
    tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key=key)


def stored_tasks(stack):
    items = boto3.resource("dynamodb").Table(stack.environment["TASKS_TABLE"]).scan()["Items"]
    return [item for item in items if str(item.get("pk", "")).startswith("TASK#") and item.get("kind")]


def assert_katapult_error(response, status, code):
    assert response["statusCode"] == status, response["body"]
    body = response_json(response)
    assert set(body) == {"code", "description", "detail"}
    assert body["code"] == code
    return body


@pytest.fixture
def mixed(tenant):
    """Two trash buckets holding live, trashed, overwritten and restored objects, all written a minute ago; a
    versioned bucket without trash; the unversioned ``photos``."""
    bin_a = tenant.add_bucket("bin-a", configuration=TRASH_ON)
    bin_b = tenant.add_bucket("bin-b", configuration=BucketConfiguration(trash_enabled=True, trash_retention_days=3))
    history = tenant.add_bucket("history", versioned=True)
    with s3_clock(timedelta(minutes=-1)):
        for bucket in (bin_a, bin_b, history):
            for key in ("live.txt", "trashed.txt", "restored.txt", "overwritten.txt"):
                tenant.put(key, b"old", bucket=bucket)
            tenant.put("overwritten.txt", b"new", bucket=bucket)
            trash(tenant, bucket, "trashed.txt")
            trash(tenant, bucket, "restored.txt")
        tenant.put("photo.jpg", b"jpg")
    for bucket in (bin_a, bin_b):
        restore = api_event("POST", "/v1/trash/restore", headers=tenant.headers,
                            body={"bucket": bucket.name, "keys": ["restored.txt"]})
        assert response_json(invoke("restore_trash", restore))["success"] is True
    return bin_a, bin_b, history


def current_versions(tenant, bucket):
    page = tenant.s3.list_object_versions(Bucket=bucket.s3_bucket)
    return sorted((item["Key"], item["VersionId"]) for item in page.get("Versions", []) if item["IsLatest"])


# --- the purge -------------------------------------------------------------------------------------------------------
def test_purge_all_removes_only_trash_and_keeps_live_restored_and_current_versions(stack, tenant, other_tenant,
                                                                                   mixed, engine):
    bin_a, bin_b, history = mixed
    other_bin = other_tenant.add_bucket("bin", configuration=TRASH_ON)
    other_tenant.put("theirs.txt", bucket=other_bin)
    trash(other_tenant, other_bin, "theirs.txt")
    current_before = {bucket.name: current_versions(tenant, bucket) for bucket in (bin_a, bin_b)}
    history_before = tenant.versions(history)
    other_before = other_tenant.versions(other_bin)

    response = purge_all(tenant)

    assert response["statusCode"] == 200, response["body"]
    task = response_json(response)["task"]
    assert set(task) == {"id", "name", "status", "created_at", "started_at", "finished_at", "progress", "counts"}
    assert task["status"] == "pending" and task["progress"] == 0 and task["finished_at"] is None
    assert isinstance(task["created_at"], int)
    assert sorted(target.bucket_name for target in get_task(task["id"]).targets) == ["bin-a", "bin-b"]

    TaskHarness(stack).drain()

    polled = response_json(katapult_task(tenant, task["id"]))["task"]
    assert (polled["id"], polled["status"], polled["progress"]) == (task["id"], "completed", 100)
    assert polled["counts"]["outcomes"]["deleted"] == polled["counts"]["deleted"] > 0
    assert sum(polled["counts"]["outcomes"].values()) == polled["counts"]["deleted"]
    assert polled["created_at"] <= polled["started_at"] <= polled["finished_at"]
    for bucket in (bin_a, bin_b):
        # Exactly the current versions are left: no noncurrent version and no delete marker.
        assert sorted((key, version) for key, version, _ in tenant.versions(bucket)) == current_before[bucket.name]
        assert tenant.keys(bucket) == ["live.txt", "overwritten.txt", "restored.txt"]
        assert tenant.s3.get_object(Bucket=bucket.s3_bucket, Key="overwritten.txt")["Body"].read() == b"new"
    assert tenant.versions(history) == history_before  # versioning without trash is the owner's history
    assert tenant.keys() == ["photo.jpg"]
    assert other_tenant.versions(other_bin) == other_before
    finished = get_task(task["id"])
    assert finished.counts.failed == 0
    assert finished.counts.deleted == 2 * 3  # per bucket: trashed.txt's version and marker, overwritten's old one
    assert_owner_on_every_call(engine, tenant)


def test_trash_made_after_the_task_was_created_is_not_purged_by_it(stack, tenant, engine):
    bucket = tenant.add_bucket("bin", configuration=TRASH_ON)
    with s3_clock(timedelta(minutes=-1)):
        for key in ("before.txt", "after.txt", "live.txt"):
            tenant.put(key, bucket=bucket)
        trash(tenant, bucket, "before.txt")

    task_id = response_json(purge_all(tenant))["task"]["id"]
    with s3_clock(timedelta(seconds=2)):  # certainly after the task's creation, whatever the clock's resolution
        trash(tenant, bucket, "after.txt")
    TaskHarness(stack).drain()

    assert get_task(task_id).status == TaskStatus.COMPLETED
    left = sorted((key, marker) for key, _, marker in tenant.versions(bucket))
    assert left == [("after.txt", False), ("after.txt", True), ("live.txt", False)]


def test_purge_all_by_own_sub_domain(stack, tenant, engine):
    bucket = tenant.add_bucket("bin", configuration=TRASH_ON)
    with s3_clock(timedelta(minutes=-1)):
        tenant.put("a", bucket=bucket)
        trash(tenant, bucket, "a")

    response = purge_all(tenant, {"organization": {"sub_domain": tenant.organization.sub_domain}})

    assert response["statusCode"] == 200
    TaskHarness(stack).drain()
    assert tenant.versions(bucket) == []


def test_an_organization_without_trash_gets_a_completed_task(stack, tenant):
    tenant.put("photo.jpg")

    response = purge_all(tenant)

    task = response_json(response)["task"]
    assert (response["statusCode"], task["status"], task["progress"]) == (200, "completed", 100)
    assert response_json(katapult_task(tenant, task["id"]))["task"]["status"] == "completed"
    assert tenant.keys() == ["photo.jpg"]


# --- the request -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    {"organization": {"id": "ORG", "sub_domain": "acme"}},
    {"organization": {}},
    {"organization": {"id": None}},
    {"organization": {"id": 12}},
    {"organization": {"sub_domain": ["acme"]}},
    {"organization": {"id": "ORG", "name": "x"}},
    {"organization": {"id": "ORG"}, "force": True},
    {"organization": "ORG"},
    {},
    [],
])
def test_a_bad_body_is_400_and_purges_nothing(stack, tenant, mixed, body):
    body = json_replace(body, "ORG", tenant.organization.id)
    before = {bucket.name: tenant.versions(bucket) for bucket in mixed}

    response = purge_all(tenant, body)

    detail = assert_katapult_error(response, 400, "validation_error")["detail"]
    assert detail["errors"]
    assert {bucket.name: tenant.versions(bucket) for bucket in mixed} == before
    assert stored_tasks(stack) == []


def json_replace(value, old, new):
    if isinstance(value, dict):
        return {key: json_replace(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [json_replace(item, old, new) for item in value]
    return new if value == old else value


@pytest.mark.parametrize(("raw", "content_type"), [("{not json", "application/json"),
                                                   ('{"organization": {"id": "x"}}', "text/plain")])
def test_malformed_json_or_wrong_content_type_is_400(stack, tenant, raw, content_type):
    event = api_event("POST", PURGE_ALL, headers={**tenant.headers, "Content-Type": content_type}, body=raw)
    assert_katapult_error(invoke("trash_purge_all", event), 400, "validation_error")


@pytest.mark.parametrize("lookup", ["id", "sub_domain"])
def test_another_organization_is_not_found_and_nothing_of_it_is_purged(stack, tenant, other_tenant, lookup):
    other_bin = other_tenant.add_bucket("bin", configuration=TRASH_ON)
    other_tenant.put("theirs.txt", bucket=other_bin)
    trash(other_tenant, other_bin, "theirs.txt")
    before = other_tenant.versions(other_bin)
    value = other_tenant.organization.id if lookup == "id" else other_tenant.organization.sub_domain

    response = purge_all(tenant, {"organization": {lookup: value}})

    assert_katapult_error(response, 404, "organization_not_found")
    assert other_tenant.versions(other_bin) == before
    assert stored_tasks(stack) == []


def test_an_unknown_organization_is_not_found(stack, tenant):
    assert_katapult_error(purge_all(tenant, {"organization": {"id": "org_nope"}}), 404, "organization_not_found")


# --- credentials and the organization's state ----------------------------------------------------------------------
def test_missing_token_is_400_as_the_page_lists_it(stack, tenant, mixed):
    before = {bucket.name: tenant.versions(bucket) for bucket in mixed}
    assert_katapult_error(purge_all(tenant, headers={}), 400, "missing_api_token")
    assert {bucket.name: tenant.versions(bucket) for bucket in mixed} == before
    assert stored_tasks(stack) == []


def test_reading_a_task_without_a_token_is_400_missing_api_token(stack, tenant):
    task_id = response_json(purge_all(tenant))["task"]["id"]
    assert_katapult_error(katapult_task(tenant, task_id, headers={"Accept": "*/*"}), 400, "missing_api_token")


def test_invalid_token_is_403(stack, tenant):
    assert_katapult_error(purge_all(tenant, headers={"Authorization": "Bearer erk_nope_nope"}), 403,
                          "invalid_api_token")


def test_scope_not_granted_names_the_scope(stack, tenant):
    headers = {"X-Api-Key": tenant.key_with_scopes("trash:read", "trash:restore", "buckets:purge")}
    body = assert_katapult_error(purge_all(tenant, headers=headers), 403, "scope_not_granted")
    assert body["detail"] == {"scope": "trash_objects:purge"}
    assert stored_tasks(stack) == []


@pytest.mark.parametrize(("status", "code"), [(OrganizationStatus.SUSPENDED, "organization_suspended"),
                                              (OrganizationStatus.NOT_ACTIVATED, "organization_not_activated")])
def test_an_inactive_organization_is_refused(stack, tenant, status, code):
    TenancyRepository().set_organization_status(tenant.organization.id, status)
    assert_katapult_error(purge_all(tenant), 403, code)
    assert stored_tasks(stack) == []


# --- rate limit, queueing and availability -------------------------------------------------------------------------
def test_the_sixth_purge_in_a_minute_is_rate_limited_and_the_next_minute_is_not(stack, tenant, monkeypatch):
    now = [1_800_000_000.0 + 10]
    monkeypatch.setattr("eraser.ratelimit.wall_clock", lambda: now[0])
    for _ in range(5):
        assert purge_all(tenant)["statusCode"] == 200

    response = purge_all(tenant)

    body = assert_katapult_error(response, 429, "rate_limit_reached")
    assert body["detail"] == {"total_permitted": 5}
    assert response_header(response, "Retry-After") == "50"
    assert len(stored_tasks(stack)) == 5
    now[0] += 50
    assert purge_all(tenant)["statusCode"] == 200


def test_the_limit_is_per_credential(stack, tenant, monkeypatch):
    monkeypatch.setattr("eraser.ratelimit.wall_clock", lambda: 1_800_000_000.0)
    for _ in range(5):
        purge_all(tenant)
    assert purge_all(tenant)["statusCode"] == 429
    other_key = {"X-Api-Key": tenant.key_with_scopes("trash_objects:purge")}
    assert purge_all(tenant, headers=other_key)["statusCode"] == 200


class FailingSqs:
    def __getattr__(self, name):
        def fail(**_):
            raise ClientError({"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue",
                                         "Message": "The specified queue does not exist."}}, name)
        return fail


def test_a_task_that_cannot_be_queued_is_task_queueing_error(stack, tenant, mixed, monkeypatch):
    monkeypatch.setattr(aws, "sqs", lambda: FailingSqs())
    before = {bucket.name: tenant.versions(bucket) for bucket in mixed}

    response = purge_all(tenant)

    body = assert_katapult_error(response, 406, "task_queueing_error")
    assert "does not exist" in body["detail"]["details"]
    assert {bucket.name: tenant.versions(bucket) for bucket in mixed} == before
    (item,) = stored_tasks(stack)
    assert item["status"] == "failed"  # the engine records why instead of leaving a task that never runs


def test_an_unavailable_rate_limit_store_is_service_unavailable(stack, tenant):
    boto3.client("dynamodb").delete_table(TableName=stack.environment["RATE_LIMITS_TABLE"])
    assert_katapult_error(purge_all(tenant), 503, "service_unavailable")
    assert stored_tasks(stack) == []


# --- GET /tasks/{id} -------------------------------------------------------------------------------------------------
def test_another_organizations_task_is_not_found(stack, tenant, other_tenant):
    task_id = response_json(purge_all(tenant))["task"]["id"]
    response = katapult_task(other_tenant, task_id)
    assert_katapult_error(response, 404, "task_not_found")


def test_reading_a_task_needs_tasks_read(stack, tenant):
    task_id = response_json(purge_all(tenant))["task"]["id"]
    headers = {"X-Api-Key": tenant.key_with_scopes("trash_objects:purge")}
    body = assert_katapult_error(katapult_task(tenant, task_id, headers=headers), 403, "scope_not_granted")
    assert body["detail"] == {"scope": "tasks:read"}


def test_an_unfinished_task_carries_retry_after_and_a_finished_one_does_not(stack, tenant, mixed, engine):
    started = purge_all(tenant)
    task_id = response_json(started)["task"]["id"]
    assert response_json(started)["task"]["status"] == "pending"
    assert 1 <= int(response_header(started, "Retry-After")) <= 30
    pending = katapult_task(tenant, task_id)
    assert response_json(pending)["task"]["status"] == "pending"
    assert 1 <= int(response_header(pending, "Retry-After")) <= 30

    harness = TaskHarness(stack)
    harness.step()
    running = katapult_task(tenant, task_id)
    assert response_json(running)["task"]["status"] == "running"
    assert 1 <= int(response_header(running, "Retry-After")) <= 30

    harness.drain()
    finished = katapult_task(tenant, task_id)
    assert response_json(finished)["task"]["status"] == "completed"
    assert response_header(finished, "Retry-After") is None


def test_an_already_completed_purge_all_carries_no_retry_after(stack, tenant):
    response = purge_all(tenant)
    assert response_json(response)["task"]["status"] == "completed"
    assert response_header(response, "Retry-After") is None


def test_task_times_are_unix_seconds(stack, tenant):
    before = int(datetime.now().timestamp())
    task = response_json(purge_all(tenant))["task"]
    assert before - 1 <= task["created_at"] <= int(datetime.now().timestamp()) + 1


def test_any_task_reads_in_katapult_form_and_cancelled_reads_failed(stack, tenant):
    from eraser.tasks import Selection, TaskKind, cancel_task, create_task

    task = create_task(tenant.organization, TaskKind.PURGE_BUCKET, [tenant.bucket], requested_by="someone",
                       selection=Selection.everything())
    cancel_task(tenant.organization.id, task.id)

    body = response_json(katapult_task(tenant, task.id))["task"]

    assert (body["name"], body["status"], body["progress"]) == ("Purge bucket", "failed", 0)  # it deleted nothing
    assert isinstance(body["finished_at"], int)
