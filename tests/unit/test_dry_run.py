"""Dry runs (docs/dry-run.md): every destructive route previews what it would do, deleting nothing, in the outcome
vocabulary; the preview lists with the code the real request lists with, so its plan is what the real request then
does; a malformed flag is refused and nothing happens.

"Nothing deleted" is shown by counting S3's deleting calls (DeleteObject, DeleteObjects, AbortMultipartUpload,
DeleteBucket) from any client during the dry run, and by the store afterwards.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from eraser import config
from eraser.tasks import TaskStatus, get_task
from eraser.tenancy import Bucket, BucketConfiguration
from tests.support import Tenant, api_event, invoke, list_versions, load_event, response_json
from tests.tasks_harness import TaskHarness, documented, engine_fixture  # noqa: F401
from tests.unit.test_delete_objects import client_of
from tests.unit.test_trash_purge_all import s3_clock

PURGE = "/storage/obj/{bucket}/purge"
DELETE_BUCKET = "/v1/buckets/{bucket_identifier}"
PURGE_ALL = "/organizations/organization/trash_objects/purge_all"
BULK = "/v1/storage/objects"


# --- buckets with everything a deletion meets --------------------------------------------------------------------
def locked_bucket(tenant: Tenant) -> Bucket:
    """Object Lock (so versioned from creation): versions, a delete marker over a version, a folder key, two
    versions under a legal hold, an open multipart upload."""
    bucket = tenant.add_bucket("vault", object_lock=True)
    for key in ("a.txt", "a.txt", "dir/", "dir/b.txt", "gone.txt"):
        tenant.put(key, b"twelve bytes", bucket=bucket)
    tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key="gone.txt")
    for key in ("held.txt", "dir/held.txt"):
        tenant.put(key, b"held", bucket=bucket, ObjectLockLegalHoldStatus="ON")
    tenant.s3.create_multipart_upload(Bucket=bucket.s3_bucket, Key="big.bin")
    return bucket


def history_bucket(tenant: Tenant) -> Bucket:
    """Versioning enabled after objects were written: ``null`` versions under newer ones, a marker, a folder."""
    bucket = tenant.add_bucket("history")
    for key in ("old.txt", "dir/", "plain.txt"):
        tenant.put(key, b"from before versioning", bucket=bucket)
    tenant.s3.put_bucket_versioning(Bucket=bucket.s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    tenant.put("old.txt", b"newer", bucket=bucket)
    tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key="plain.txt")
    tenant.s3.create_multipart_upload(Bucket=bucket.s3_bucket, Key="part.bin")
    return bucket


def uploads(tenant: Tenant, bucket: Bucket) -> int:
    return len(tenant.s3.list_multipart_uploads(Bucket=bucket.s3_bucket).get("Uploads", []))


def purge_request(tenant: Tenant, bucket: str, flag: str | None) -> dict[str, Any]:
    event = api_event("DELETE", PURGE, {"bucket": bucket}, headers=tenant.headers,
                      query={"dry_run": flag} if flag is not None else None)
    return documented(invoke("purge_bucket", event), "DELETE", PURGE)


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {name: count for name, count in counts.items() if count}


@pytest.fixture
def small_sync_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dry run past 3 entries becomes a dry-run task."""
    monkeypatch.setenv("SYNC_DELETE_LIMIT", "3")
    config.settings.cache_clear()


# --- the plan is what the deletion then does ----------------------------------------------------------------------
@pytest.mark.parametrize("make_bucket", [locked_bucket, history_bucket])
def test_a_purge_s_plan_is_what_the_purge_then_does(stack, tenant, engine, s3_calls, monkeypatch,
                                                     make_bucket):
    bucket = make_bucket(tenant)
    before = list_versions(tenant.s3, bucket.s3_bucket)
    s3_calls.reset()  # the setup's own deletes (a delete marker)

    answer = purge_request(tenant, bucket.name, "true")

    assert answer["statusCode"] == 200, answer["body"]
    body = response_json(answer)
    assert body["dry_run"] is True
    plan = body["plan"]
    assert s3_calls.deleting == 0
    assert list_versions(tenant.s3, bucket.s3_bucket) == before
    assert uploads(tenant, bucket) == 1

    # The same preview made by a dry-run task (the request's budget was too small) gives the same plan.
    monkeypatch.setenv("SYNC_DELETE_LIMIT", "3")
    config.settings.cache_clear()
    queued = response_json(purge_request(tenant, bucket.name, "true"))
    assert queued["task"]["id"]
    TaskHarness(stack, duplicate_deliveries=True).drain()
    report = response_json(invoke("get_task", api_event("GET", "/v1/tasks/{task_id}",
                                                        {"task_id": queued["task"]["id"]}, headers=tenant.headers)))
    assert report["task_type"] == "dry_run" and report["previews"] == "purge_bucket"
    assert report["status"] == "COMPLETED"
    assert {name: report["plan"][name] for name in ("would_delete", "would_leave", "outcomes")} == \
        {name: plan[name] for name in ("would_delete", "would_leave", "outcomes")}
    assert s3_calls.deleting == 0
    assert list_versions(tenant.s3, bucket.s3_bucket) == before

    # The real purge: its outcome counts are the plan's, and so are the uploads it aborts.
    monkeypatch.delenv("SYNC_DELETE_LIMIT")
    config.settings.cache_clear()
    task_id = response_json(purge_request(tenant, bucket.name, None))["task"]["id"]
    TaskHarness(stack).drain()
    task = get_task(task_id)
    assert nonzero(task.counts.outcomes) == plan["outcomes"]
    assert task.counts.uploads_aborted == plan["would_delete"]["multipart_uploads"] == 1
    left = [version for version in list_versions(tenant.s3, bucket.s3_bucket)]
    assert len(left) == plan["would_leave"]["legal_hold"] + plan["would_leave"]["object_lock_retention"]
    if plan["would_leave"]["legal_hold"]:
        assert task.status == TaskStatus.FAILED
        assert sorted(key for key, _, _ in left) == ["dir/held.txt", "held.txt"]
    else:
        assert task.status == TaskStatus.COMPLETED


def test_a_locked_bucket_s_plan_names_what_it_would_leave_and_why(tenant, engine, s3_calls):
    bucket = locked_bucket(tenant)
    s3_calls.reset()

    plan = response_json(purge_request(tenant, bucket.name, "true"))["plan"]

    assert plan["complete"] is True
    assert plan["would_delete"] == {"objects": 3, "versions": 5, "delete_markers": 1, "multipart_uploads": 1,
                                    "bytes": 5 * len(b"twelve bytes")}
    assert plan["would_leave"]["legal_hold"] == 2
    assert plan["outcomes"] == {"deleted": 6, "blocked_by_retention": 2}
    held = [entry for entry in plan["sample"] if entry["outcome"] == "blocked_by_retention"]
    assert sorted(entry["key"] for entry in held) == ["dir/held.txt", "held.txt"]
    assert {entry["reason"] for entry in held} == {"legal_hold"}
    assert plan["sample"][:2] == held
    assert s3_calls.deleting == 0


# --- every destructive route deletes nothing in a dry run ---------------------------------------------------------
def test_delete_bucket_dry_run_says_the_bucket_would_be_kept_and_deletes_nothing(stack, tenant, engine,
                                                                                s3_calls):
    bucket = locked_bucket(tenant)
    before = list_versions(tenant.s3, bucket.s3_bucket)
    s3_calls.reset()
    event = api_event("DELETE", DELETE_BUCKET, {"bucket_identifier": "vault"}, headers=tenant.headers,
                      query={"dry_run": "true"})

    answer = documented(invoke("delete_bucket", event), "DELETE", DELETE_BUCKET)

    assert answer["statusCode"] == 200, answer["body"]
    plan = response_json(answer)["plan"]
    assert plan["would_leave"]["bucket"] is True
    assert plan["would_delete"]["multipart_uploads"] == 1
    assert s3_calls.deleting == 0
    assert list_versions(tenant.s3, bucket.s3_bucket) == before
    tenant.s3.head_bucket(Bucket=bucket.s3_bucket)


def test_delete_bucket_dry_run_of_a_big_bucket_is_a_dry_run_task(stack, tenant, engine, s3_calls,
                                                                 small_sync_limit):
    for index in range(10):
        tenant.put(f"k{index}")
    event = api_event("DELETE", DELETE_BUCKET, {"bucket_identifier": "photos"}, headers=tenant.headers,
                      query={"dry_run": "true"})

    answer = documented(invoke("delete_bucket", event), "DELETE", DELETE_BUCKET)

    assert answer["statusCode"] == 202, answer["body"]
    task_id = response_json(answer)["task_id"]
    TaskHarness(stack).drain()
    task = get_task(task_id)
    assert task.status == TaskStatus.COMPLETED and task.is_dry_run
    assert nonzero(task.counts.outcomes) == {"deleted": 10}
    assert task.counts.deleted == 0 and task.counts.planned["bytes"] == 10
    assert s3_calls.deleting == 0
    assert len(tenant.keys()) == 10
    tenant.s3.head_bucket(Bucket=tenant.bucket.s3_bucket)


@pytest.mark.parametrize("sync", [True, False])
def test_bulk_delete_dry_run_tells_absent_keys_apart_and_deletes_nothing(stack, tenant, engine, s3_calls,
                                                                        monkeypatch, sync):
    for key in ("a.txt", "pdf/1.pdf", "pdf/2.pdf"):
        tenant.put(key)
    if not sync:
        monkeypatch.setenv("SYNC_DELETE_LIMIT", "1")
        config.settings.cache_clear()
    event = api_event("DELETE", BULK, headers=tenant.headers, query={"bucket": "photos", "dry_run": "true"},
                      body={"object_keys": ["a.txt", "never.txt"], "path": ["pdf"]})

    answer = documented(invoke("bulk_delete", event), "DELETE", BULK)

    body = response_json(answer)
    assert body["dry_run"] is True
    assert body["data"]["deleted_objects"] == []
    if sync:
        assert answer["statusCode"] == 200, answer["body"]
        outcomes = body["plan"]["outcomes"]
    else:
        assert answer["statusCode"] == 202, answer["body"]
        TaskHarness(stack).drain()
        outcomes = nonzero(get_task(body["data"]["task"]["id"]).counts.outcomes)
    assert outcomes == {"deleted": 3, "already_absent": 1}
    assert s3_calls.deleting == 0
    assert tenant.keys() == ["a.txt", "pdf/1.pdf", "pdf/2.pdf"]


@pytest.mark.parametrize("sync", [True, False])
def test_purge_all_dry_run_previews_every_trash_bucket(stack, tenant, engine, s3_calls, monkeypatch,
                                                       sync):
    trash = tenant.add_bucket("bin", configuration=BucketConfiguration(trash_enabled=True))
    with s3_clock(timedelta(minutes=-1)):
        for body in (b"one", b"two", b"three"):
            tenant.put("doc.txt", body, bucket=trash)
    before = list_versions(tenant.s3, trash.s3_bucket)
    if not sync:
        monkeypatch.setenv("SYNC_DELETE_LIMIT", "1")
        config.settings.cache_clear()
    event = api_event("POST", PURGE_ALL, headers=tenant.headers, query={"dry_run": "true"},
                      body={"organization": {"id": tenant.organization.id}})

    answer = documented(invoke("trash_purge_all", event), "POST", PURGE_ALL)

    body = response_json(answer)
    if sync:
        assert answer["statusCode"] == 200, answer["body"]
        assert body["plan"]["outcomes"] == {"deleted": 2}
        assert body["plan"]["would_delete"]["versions"] == 2
    else:
        assert answer["statusCode"] == 202, answer["body"]
        TaskHarness(stack).drain()
        katapult = response_json(invoke("get_task_katapult", api_event(
            "GET", "/tasks/{task_id}", {"task_id": body["task"]["id"]}, headers=tenant.headers)))
        assert katapult["task"]["status"] == "completed"
        assert katapult["task"]["plan"]["outcomes"] == {"deleted": 2}
    assert s3_calls.deleting == 0
    assert list_versions(tenant.s3, trash.s3_bucket) == before


def test_the_scheduled_trash_purge_run_by_hand_as_a_dry_run_deletes_nothing(tenant, engine, s3_calls):
    trash = tenant.add_bucket("bin", configuration=BucketConfiguration(trash_enabled=True, trash_retention_days=1))
    with s3_clock(timedelta(days=-3)):
        for body in (b"one", b"two"):
            tenant.put("doc.txt", body, bucket=trash)
    before = list_versions(tenant.s3, trash.s3_bucket)

    run = invoke("scheduled_trash_purge", load_event("scheduled_trash_purge_dry_run.json"))

    assert run["dry_run"] is True and run["started"] == 0
    (purge,) = [purge for purge in run["purges"] if purge["bucket_id"] == trash.id]
    assert purge["plan"]["outcomes"] == {"deleted": 1}
    assert s3_calls.deleting == 0
    assert list_versions(tenant.s3, trash.s3_bucket) == before


def test_a_trash_purge_s_plan_counts_markers_and_what_is_too_recent_and_matches_the_purge(stack, tenant, engine,
                                                                                          s3_calls):
    trash = tenant.add_bucket("bin", configuration=BucketConfiguration(trash_enabled=True, trash_retention_days=1))
    with s3_clock(timedelta(days=-3)):
        for body in (b"one", b"two"):
            tenant.put("old.txt", body, bucket=trash)
        tenant.put("gone.txt", b"history", bucket=trash)
        tenant.s3.delete_object(Bucket=trash.s3_bucket, Key="gone.txt")
    for body in (b"one", b"two"):
        tenant.put("recent.txt", body, bucket=trash)
    before = list_versions(tenant.s3, trash.s3_bucket)
    s3_calls.reset()

    run = invoke("scheduled_trash_purge", load_event("scheduled_trash_purge_dry_run.json"))

    (purge,) = [purge for purge in run["purges"] if purge["bucket_id"] == trash.id]
    plan = purge["plan"]
    # old.txt's first version, gone.txt's version and the marker on top of it (a verification pass removes it).
    assert plan["outcomes"] == {"deleted": 3}
    assert plan["would_delete"]["delete_markers"] == 1
    assert plan["would_leave"]["newer_than_trash_retention"] == 1
    assert s3_calls.deleting == 0
    assert list_versions(tenant.s3, trash.s3_bucket) == before

    real = invoke("scheduled_trash_purge", load_event("scheduled_trash_purge.json"))
    TaskHarness(stack).drain()
    (started,) = [purge for purge in real["purges"] if purge["bucket_id"] == trash.id]
    task = get_task(started["task_id"])
    assert task.status == TaskStatus.COMPLETED
    assert nonzero(task.counts.outcomes) == plan["outcomes"]


# --- the S3 routes -------------------------------------------------------------------------------------------------
def s3_client(tenant: Tenant, dry_run: str | None) -> Any:
    """boto3 pointed at the handlers (tests.s3bridge), with Eraser's dry-run header on every request."""
    client = client_of(tenant)
    if dry_run is not None:
        client.meta.events.register("before-sign.s3.*", lambda request, **_: request.headers.__setitem__(
            "x-eraser-dry-run", dry_run))
    return client


def test_s3_delete_object_dry_run_answers_as_s3_would_and_names_the_outcome(tenant, s3_calls):
    bucket = tenant.add_bucket("vault", object_lock=True)
    tenant.put("plain.txt", bucket=bucket)
    held = tenant.put("held.txt", b"held", bucket=bucket, ObjectLockLegalHoldStatus="ON")["VersionId"]
    before = list_versions(tenant.s3, bucket.s3_bucket)
    client = s3_client(tenant, "true")

    marker = client.delete_object(Bucket="vault", Key="plain.txt")
    refused = None
    try:
        client.delete_object(Bucket="vault", Key="held.txt", VersionId=held)
    except client.exceptions.ClientError as error:
        refused = error.response

    assert marker["DeleteMarker"] is True
    assert marker["ResponseMetadata"]["HTTPHeaders"]["x-eraser-outcome"] == "delete_marker_created"
    assert marker["ResponseMetadata"]["HTTPHeaders"]["x-eraser-dry-run"] == "true"
    assert refused is not None and refused["Error"]["Code"] == "AccessDenied"
    assert refused["ResponseMetadata"]["HTTPHeaders"]["x-eraser-outcome"] == "blocked_by_retention"
    assert s3_calls.deleting == 0
    assert list_versions(tenant.s3, bucket.s3_bucket) == before


def test_s3_delete_objects_dry_run_answers_the_delete_result_the_real_one_would(tenant, s3_calls):
    tenant.put("here.txt")
    client = s3_client(tenant, "true")

    answer = client.delete_objects(Bucket="photos", Delete={"Objects": [{"Key": "here.txt"}, {"Key": "nope.txt"}]})

    assert sorted(item["Key"] for item in answer["Deleted"]) == ["here.txt", "nope.txt"]
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-eraser-dry-run"] == "true"
    assert s3_calls.deleting == 0
    assert tenant.keys() == ["here.txt"]


# --- a malformed flag is refused, and nothing happens ----------------------------------------------------------------
@pytest.mark.parametrize("flag", ["maybe", "TRUE", "1", ""])
def test_a_malformed_dry_run_flag_is_refused_by_every_json_family(tenant, s3_calls, flag):
    tenant.put("a.txt")
    purge = invoke("purge_bucket", api_event("DELETE", PURGE, {"bucket": "photos"}, headers=tenant.headers,
                                             query={"dry_run": flag}))
    deletion = invoke("delete_bucket", api_event("DELETE", DELETE_BUCKET, {"bucket_identifier": "photos"},
                                                 headers=tenant.headers, query={"dry_run": flag}))
    bulk = invoke("bulk_delete", api_event("DELETE", BULK, headers=tenant.headers,
                                           query={"bucket": "photos", "dry_run": flag},
                                           body={"object_keys": ["a.txt"], "path": []}))
    purge_all = invoke("trash_purge_all", api_event("POST", PURGE_ALL, headers=tenant.headers,
                                                    query={"dry_run": flag},
                                                    body={"organization": {"id": tenant.organization.id}}))

    assert (purge["statusCode"], response_json(purge)["error"]) == (400, "validation_error")
    assert (deletion["statusCode"], response_json(deletion)["error"]["code"]) == (422, "validation_error")
    assert (bulk["statusCode"], response_json(bulk)["exception"]["error_code"]) == (400, 400001)
    assert (purge_all["statusCode"], response_json(purge_all)["code"]) == (400, "validation_error")
    assert s3_calls.deleting == 0
    assert tenant.keys() == ["a.txt"]


def test_a_malformed_dry_run_header_is_s3_s_invalid_argument(tenant, s3_calls):
    tenant.put("a.txt")
    client = s3_client(tenant, "maybe")

    with pytest.raises(client.exceptions.ClientError) as refused:
        client.delete_object(Bucket="photos", Key="a.txt")

    assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    assert s3_calls.deleting == 0
    assert tenant.keys() == ["a.txt"]


def test_dry_run_false_is_the_real_request(stack, tenant, engine):
    tenant.put("a.txt")

    answer = purge_request(tenant, "photos", "false")

    assert answer["statusCode"] == 200 and "dry_run" not in response_json(answer)
    TaskHarness(stack).drain()
    assert get_task(response_json(answer)["task"]["id"]).counts.deleted == 1
    assert tenant.keys() == []


def test_a_dry_run_header_sent_twice_is_refused_and_deletes_nothing(tenant, s3_calls):
    # "true" then "false": API Gateway's ``headers`` keeps the last, which would make the preview a deletion.
    tenant.put("a.txt")
    event = api_event("DELETE", "/s3/{bucket}/{key+}", {"bucket": "photos", "key": "a.txt"},
                      headers={**tenant.headers, "x-eraser-dry-run": "false"})
    event["multiValueHeaders"]["x-eraser-dry-run"] = ["true", "false"]

    answer = invoke("delete_object", event)

    assert answer["statusCode"] == 400 and b"<Code>InvalidArgument</Code>" in answer["body"].encode()
    assert s3_calls.deleting == 0
    assert tenant.keys() == ["a.txt"]
