"""Trash on a versioned bucket: listing (pagination, opaque tokens), restore, and deletes through Eraser's endpoints
landing in trash."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from eraser.tenancy import BucketConfiguration
from tests.openapi_check import assert_matches_openapi
from tests.support import api_event, invoke, response_json

TRASH_ON = BucketConfiguration(trash_enabled=True)


@pytest.fixture
def trash_bucket(tenant):
    return tenant.add_bucket("bin", configuration=TRASH_ON)


def list_trash(tenant, bucket="bin", headers=None, **query):
    event = api_event("GET", "/v1/trash", query={"bucket": bucket, **query}, headers=headers or tenant.headers)
    response = invoke("list_trash", event)
    assert_matches_openapi(response, "GET", "/v1/trash")
    return response


def restore(tenant, body, headers=None):
    event = api_event("POST", "/v1/trash/restore", headers=headers or tenant.headers, body=body)
    response = invoke("restore_trash", event)
    assert_matches_openapi(response, "POST", "/v1/trash/restore")
    return response


def all_trash(tenant, bucket="bin", page_size=100):
    entries, token, pages = [], None, 0
    while True:
        query = {"page_size": str(page_size), **({"page_token": token} if token else {})}
        response = list_trash(tenant, bucket, **query)
        assert response["statusCode"] == 200, response["body"]
        body = response_json(response)
        entries += body["results"]
        pages += 1
        token = body["pagination"]["next_page_token"]
        if token is None:
            return entries, pages


def current_keys(tenant, bucket):
    return tenant.keys(bucket)


# --- listing ---------------------------------------------------------------------------------------------------------
def test_trash_lists_deleted_and_overwritten_versions_not_live_objects(tenant, trash_bucket):
    tenant.put("deleted.txt", b"12345", bucket=trash_bucket)
    tenant.put("overwritten.txt", b"old", bucket=trash_bucket)
    tenant.put("overwritten.txt", b"newer", bucket=trash_bucket)
    tenant.put("live.txt", b"x", bucket=trash_bucket)
    marker = tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="deleted.txt")

    entries, _ = all_trash(tenant)

    assert [(e["key"], e["reason"], e["restorable"], e["size"]) for e in entries] == [
        ("deleted.txt", "deleted", True, 5), ("overwritten.txt", "overwritten", False, 3)]
    markers = tenant.s3.list_object_versions(Bucket=trash_bucket.s3_bucket, Prefix="deleted.txt")["DeleteMarkers"]
    assert markers[0]["VersionId"] == marker["VersionId"]
    deleted_at = datetime.fromisoformat(entries[0]["deleted_at"].replace("Z", "+00:00"))
    assert deleted_at == markers[0]["LastModified"].astimezone(UTC)
    assert entries[0]["deleted_by"] is None


def test_trash_pages_cover_every_entry_once_even_inside_one_keys_versions(tenant, trash_bucket):
    for key in ("a", "b", "c"):
        for body in (b"1", b"22", b"333"):
            tenant.put(key, body, bucket=trash_bucket)
        tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key=key)
    expected = sorted((key, item["VersionId"]) for key in ("a", "b", "c")
                      for item in tenant.s3.list_object_versions(Bucket=trash_bucket.s3_bucket, Prefix=key)["Versions"])

    entries, pages = all_trash(tenant, page_size=2)

    assert sorted((e["key"], e["version_id"]) for e in entries) == expected
    assert pages == 5  # 9 entries, 2 per page
    # The newest version of each key is the restorable one; older ones were overwritten, even across page breaks.
    assert [(e["key"], e["size"], e["reason"], e["restorable"]) for e in entries] == [
        (key, size, reason, size == 3) for key in ("a", "b", "c")
        for size, reason in ((3, "deleted"), (2, "overwritten"), (1, "overwritten"))]


def test_a_request_reads_a_bounded_number_of_s3_pages_and_continues_where_it_stopped(tenant, trash_bucket,
                                                                                      monkeypatch):
    """Many live objects and little trash: pages may come back short, even empty, yet carry on to every entry."""
    monkeypatch.setattr("eraser.trash.S3_PAGE_SIZE", 3)
    monkeypatch.setattr("eraser.trash.MAX_S3_PAGES_PER_REQUEST", 2)
    for index in range(20):
        tenant.put(f"live-{index:02d}", bucket=trash_bucket)
    for key in ("live-05", "live-17"):
        tenant.put(key, b"second version", bucket=trash_bucket)
    tenant.put("zz-deleted", b"abc", bucket=trash_bucket)
    tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="zz-deleted")

    entries, pages = all_trash(tenant, page_size=100)

    assert [(e["key"], e["reason"], e["size"]) for e in entries] == [
        ("live-05", "overwritten", 1), ("live-17", "overwritten", 1), ("zz-deleted", "deleted", 3)]
    assert pages > 3  # 25 versions at 3 per S3 page and 2 S3 pages per request


def test_page_token_is_opaque(tenant, trash_bucket):
    for key in ("secret-a", "secret-b"):
        tenant.put(key, bucket=trash_bucket)
        tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key=key)
    token = response_json(list_trash(tenant, page_size="1"))["pagination"]["next_page_token"]
    assert token and "secret" not in token and "{" not in token


@pytest.mark.parametrize("token", [
    "not base64 !",
    base64.urlsafe_b64encode(b"{not json").decode(),
    base64.urlsafe_b64encode(json.dumps({"k": "a"}).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps({"b": "x", "k": "a", "v": "1", "t": 1, "m": True, "r": True,
                                         "extra": 1}).encode()).decode(),
    "A" * 5000,
])
def test_a_bad_page_token_is_400_invalid_page_token(tenant, trash_bucket, token):
    response = list_trash(tenant, page_token=token)
    assert response["statusCode"] == 400
    body = response_json(response)
    assert body["success"] is False
    assert (body["error"]["type"], body["error"]["code"]) == ("BadRequestError", "invalid_page_token")


def test_a_page_token_of_another_bucket_is_refused(tenant, trash_bucket):
    other = tenant.add_bucket("bin2", configuration=TRASH_ON)
    for bucket in (trash_bucket, other):
        for key in ("a", "b"):
            tenant.put(key, bucket=bucket)
            tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key=key)
    token = response_json(list_trash(tenant, "bin2", page_size="1"))["pagination"]["next_page_token"]
    assert list_trash(tenant, "bin", page_token=token)["statusCode"] == 400


@pytest.mark.parametrize("query", [{"page_size": "0"}, {"page_size": "1001"}, {"page_size": "ten"}])
def test_bad_page_size_is_a_validation_error(tenant, trash_bucket, query):
    response = list_trash(tenant, **query)
    assert response["statusCode"] == 422
    assert response_json(response)["error"]["type"] == "ValidationError"


def test_missing_bucket_parameter_is_a_validation_error(tenant, trash_bucket):
    event = api_event("GET", "/v1/trash", headers=tenant.headers)
    assert invoke("list_trash", event)["statusCode"] == 422


def test_trash_of_a_bucket_without_trash_is_409(tenant):
    response = list_trash(tenant, "photos")
    assert response["statusCode"] == 409
    assert response_json(response)["error"]["code"] == "conflict"


def test_trash_of_another_organizations_bucket_is_not_found(tenant, other_tenant):
    other_tenant.add_bucket("bin", configuration=TRASH_ON)
    response = list_trash(tenant, other_tenant.extra_buckets["bin"].id)
    assert response["statusCode"] == 404
    assert response_json(response)["error"]["code"] == "bucket_not_found"


def test_listing_trash_needs_trash_read(tenant, trash_bucket):
    headers = {"X-Api-Key": tenant.key_with_scopes("trash:restore")}
    response = list_trash(tenant, headers=headers)
    assert response["statusCode"] == 403
    assert response_json(response)["error"]["code"] == "scope_not_granted"
    assert list_trash(tenant, headers={"X-Api-Key": tenant.key_with_scopes("trash:read")})["statusCode"] == 200


def test_listing_trash_without_credentials_is_401(tenant, trash_bucket):
    assert list_trash(tenant, headers={"Accept": "*/*"})["statusCode"] == 401


# --- restore ---------------------------------------------------------------------------------------------------------
def test_restore_removes_the_delete_markers_and_brings_the_newest_version_back(tenant, trash_bucket):
    first = tenant.put("doc.txt", b"v1", bucket=trash_bucket)
    second = tenant.put("doc.txt", b"v2", bucket=trash_bucket)
    tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="doc.txt")
    tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="doc.txt")  # a second marker on top of the first

    response = restore(tenant, {"bucket": "bin", "keys": ["doc.txt"]})

    assert response["statusCode"] == 200, response["body"]
    body = response_json(response)
    assert body["success"] is True and body["errors"] == []
    assert [(r["key"], r["version_id"], len(r["removed_delete_markers"])) for r in body["restored"]] == [
        ("doc.txt", second["VersionId"], 2)]
    assert current_keys(tenant, trash_bucket) == ["doc.txt"]
    assert tenant.s3.get_object(Bucket=trash_bucket.s3_bucket, Key="doc.txt")["Body"].read() == b"v2"
    assert sorted(v for _, v, marker in tenant.versions(trash_bucket) if not marker) == sorted(
        [first["VersionId"], second["VersionId"]])
    assert not [v for v in tenant.versions(trash_bucket) if v[2]]


def test_restore_reports_keys_not_in_trash_one_by_one(tenant, trash_bucket):
    tenant.put("live.txt", bucket=trash_bucket)
    tenant.put("gone.txt", bucket=trash_bucket)
    tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="gone.txt")
    tenant.put("live.txt.bak", bucket=trash_bucket)  # shares the prefix: must not be taken for live.txt
    tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="live.txt.bak")
    versions_before = tenant.versions(trash_bucket)

    response = restore(tenant, {"bucket": "bin", "keys": ["live.txt", "never-existed", "gone.txt"]})

    body = response_json(response)
    assert response["statusCode"] == 200
    assert body["success"] is False
    assert [r["key"] for r in body["restored"]] == ["gone.txt"]
    assert [(e["key"], e["code"]) for e in body["errors"]] == [("live.txt", "not_in_trash"),
                                                               ("never-existed", "not_in_trash")]
    assert current_keys(tenant, trash_bucket) == ["gone.txt", "live.txt"]
    removed = set(versions_before) - set(tenant.versions(trash_bucket))
    assert [(key, marker) for key, _, marker in removed] == [("gone.txt", True)]


@pytest.mark.parametrize("body", [
    {"bucket": "bin"},
    {"bucket": "bin", "keys": []},
    {"bucket": "bin", "keys": ["a", "a"]},
    {"bucket": "bin", "keys": ["a"], "extra": True},
    {"bucket": "bin", "keys": [1]},
    {"bucket": "bin", "keys": ["k" * 1025]},
    {"bucket": "bin", "keys": [f"k{i}" for i in range(101)]},
])
def test_a_bad_restore_request_is_422_and_restores_nothing(tenant, trash_bucket, body):
    tenant.put("a", bucket=trash_bucket)
    tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="a")
    before = tenant.versions(trash_bucket)

    response = restore(tenant, body)

    assert response["statusCode"] == 422
    assert response_json(response)["error"]["type"] == "ValidationError"
    assert tenant.versions(trash_bucket) == before


def test_restore_needs_trash_restore(tenant, trash_bucket):
    tenant.put("a", bucket=trash_bucket)
    tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="a")
    response = restore(tenant, {"bucket": "bin", "keys": ["a"]},
                       headers={"X-Api-Key": tenant.key_with_scopes("trash:read")})
    assert response["statusCode"] == 403
    assert response_json(response)["error"]["details"] == {"scope": "trash:restore"}
    assert current_keys(tenant, trash_bucket) == []


def test_restore_on_a_bucket_without_trash_is_409(tenant):
    assert restore(tenant, {"bucket": "photos", "keys": ["a"]})["statusCode"] == 409


# --- deletes through Eraser's endpoints go to trash ------------------------------------------------------------------
def test_s3_delete_without_version_goes_to_trash_and_with_version_is_permanent(tenant, trash_bucket):
    tenant.put("soft.txt", bucket=trash_bucket)
    hard = tenant.put("hard.txt", bucket=trash_bucket)

    soft_response = invoke("delete_object", api_event("DELETE", "/s3/{bucket}/{key+}",
                                                      {"bucket": "bin", "key": "soft.txt"}, headers=tenant.headers))
    hard_event = api_event("DELETE", "/s3/{bucket}/{key+}", {"bucket": "bin", "key": "hard.txt"},
                           query={"versionId": hard["VersionId"]}, headers=tenant.headers)
    hard_response = invoke("delete_object", hard_event)

    assert (soft_response["statusCode"], hard_response["statusCode"]) == (204, 204)
    entries, _ = all_trash(tenant)
    assert [(e["key"], e["restorable"]) for e in entries] == [("soft.txt", True)]
    assert [key for key, _, _ in tenant.versions(trash_bucket) if key == "hard.txt"] == []
    assert response_json(restore(tenant, {"bucket": "bin", "keys": ["soft.txt"]}))["success"] is True
    assert current_keys(tenant, trash_bucket) == ["soft.txt"]


def test_bulk_delete_goes_to_trash(tenant, trash_bucket):
    for key in ("docs/a.txt", "docs/b.txt", "keep.txt"):
        tenant.put(key, bucket=trash_bucket)

    response = invoke("bulk_delete", api_event("DELETE", "/v1/storage/objects", query={"bucket": "bin"},
                                               headers=tenant.headers,
                                               body={"object_keys": ["keep.txt"], "path": ["docs"]}))

    assert response["statusCode"] == 200, response["body"]
    assert current_keys(tenant, trash_bucket) == []
    entries, _ = all_trash(tenant)
    assert sorted(e["key"] for e in entries) == ["docs/a.txt", "docs/b.txt", "keep.txt"]
    assert all(e["reason"] == "deleted" and e["restorable"] for e in entries)
