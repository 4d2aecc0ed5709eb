"""The read-only S3 operations clients need before they delete: ListObjectsV2, ListObjectVersions, HeadObject,
HeadBucket and GetBucketLocation, sent by boto3 itself (its paginators, its encoding-type=url) to the handlers."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from eraser.auth import CredentialStore
from tests.s3bridge import s3_client
from tests.support import Tenant, api_event, invoke
from tests.unit.test_delete_object import assert_error


def client_of(tenant: Tenant, scopes: tuple[str, ...] = ("objects:read",)) -> Any:
    secret, record = CredentialStore().issue_s3_key(tenant.organization.id, list(scopes))
    return s3_client(record.access_key_id, secret)


def test_the_list_objects_v2_paginator_pages_through_every_key_under_a_prefix(tenant: Tenant) -> None:
    keys = [f"logs/{number:03d} +ü.txt" for number in range(25)] + ["logsx/a.txt", "other/b.txt"]
    for key in keys:
        tenant.put(key)

    pages = list(client_of(tenant).get_paginator("list_objects_v2").paginate(
        Bucket="photos", Prefix="logs/", PaginationConfig={"PageSize": 10}))

    assert [page["KeyCount"] for page in pages] == [10, 10, 5]
    assert [item["Key"] for page in pages for item in page["Contents"]] == keys[:25]
    assert all(page["Name"] == "photos" for page in pages)
    assert pages[0]["Contents"][0]["Size"] == 1 and pages[0]["Contents"][0]["ETag"].startswith('"')


def test_delimiter_and_start_after_as_s3_answers_them(tenant: Tenant) -> None:
    for key in ("a/1", "a/2", "b/1", "c.txt", "d.txt"):
        tenant.put(key)

    answer = client_of(tenant).list_objects_v2(Bucket="photos", Delimiter="/", StartAfter="a/2")

    assert [item["Prefix"] for item in answer["CommonPrefixes"]] == ["b/"]
    assert [item["Key"] for item in answer["Contents"]] == ["c.txt", "d.txt"]
    assert answer["StartAfter"] == "a/2"


def test_list_object_versions_paginator_lists_versions_and_markers(tenant: Tenant) -> None:
    bucket = tenant.add_bucket("media", versioned=True)
    for _ in range(3):
        tenant.put("a.txt", bucket=bucket)
    tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key="a.txt")
    tenant.put("b.txt", bucket=bucket)

    pages = list(client_of(tenant).get_paginator("list_object_versions").paginate(
        Bucket="media", PaginationConfig={"PageSize": 2}))

    versions = [(item["Key"], item["VersionId"]) for page in pages for item in page.get("Versions", [])]
    markers = [(item["Key"], item["VersionId"]) for page in pages for item in page.get("DeleteMarkers", [])]
    expected = tenant.versions(bucket)
    assert sorted(versions) == sorted((key, version) for key, version, marker in expected if not marker)
    assert sorted(markers) == sorted((key, version) for key, version, marker in expected if marker)


def test_head_object_head_bucket_and_location(tenant: Tenant) -> None:
    tenant.put("a.txt", b"hello")
    client = client_of(tenant)

    head = client.head_object(Bucket="photos", Key="a.txt")
    assert head["ContentLength"] == 5 and head["ETag"].startswith('"')
    assert client.head_bucket(Bucket="photos")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert client.get_bucket_location(Bucket="photos")["LocationConstraint"] is None
    with pytest.raises(ClientError) as raised:
        client.head_object(Bucket="photos", Key="missing")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_another_organization_s_bucket_is_no_such_bucket_on_every_read(tenant: Tenant, other_tenant: Tenant) -> None:
    other_tenant.put("a.txt")
    client = client_of(tenant)
    name = other_tenant.bucket.s3_bucket

    for call in (lambda: client.list_objects_v2(Bucket=name), lambda: client.list_object_versions(Bucket=name),
                 lambda: client.get_bucket_location(Bucket=name)):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    for call in (lambda: client.head_bucket(Bucket=name), lambda: client.head_object(Bucket=name, Key="a.txt")):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert other_tenant.keys() == ["a.txt"]


def test_listing_needs_the_read_scope(tenant: Tenant) -> None:
    with pytest.raises(ClientError) as raised:
        client_of(tenant, ("objects:delete",)).list_objects_v2(Bucket="photos")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("query", [{}, {"acl": ""}, {"lifecycle": ""}, {"list-type": "2", "tagging": ""},
                                   {"versions": "", "uploads": ""}, {"policy": ""}])
def test_other_bucket_reads_are_not_implemented_before_credentials(tenant: Tenant, query: dict[str, str]) -> None:
    event = api_event("GET", "/s3/{bucket}", {"bucket": "photos"}, query=query or None)
    assert_error(invoke("list_objects", event), 501, "NotImplemented")


@pytest.mark.parametrize("query", [{"list-type": "2", "max-keys": "x"}, {"list-type": "2", "encoding-type": "zip"}])
def test_malformed_listing_parameters_are_invalid_argument(tenant: Tenant, query: dict[str, str]) -> None:
    event = api_event("GET", "/s3/{bucket}", {"bucket": "photos"}, query=query, headers=tenant.headers)
    assert_error(invoke("list_objects", event), 400, "InvalidArgument")


@pytest.mark.parametrize(("directory", "resource", "parameters"), [
    ("head_bucket", "/s3/{bucket}", {"bucket": "photos"}),
    ("head_object", "/s3/{bucket}/{key+}", {"bucket": "photos", "key": "a.txt"})])
def test_head_refuses_an_unknown_parameter_with_400_because_its_answer_has_no_body(
        tenant: Tenant, directory: str, resource: str, parameters: dict[str, str]) -> None:
    event = api_event("HEAD", resource, parameters, query={"acl": ""}, headers=tenant.headers)
    assert_error(invoke(directory, event), 400, "InvalidArgument")
