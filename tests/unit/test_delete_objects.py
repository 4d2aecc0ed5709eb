"""POST /s3/{bucket}?delete: S3's DeleteObjects through the real handler on moto, sent by boto3 itself (its SigV4
signature, its CRC32 checksum, its XML) and by hand where boto3 would not send it; the bucket checked afterwards."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from eraser.api.s3body import crc32c, crc64nvme
from eraser.auth import CredentialStore
from tests.s3bridge import s3_client
from tests.support import Tenant, api_event, invoke, response_header
from tests.unit.test_delete_object import assert_error

RESOURCE = "/s3/{bucket}"
NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def client_of(tenant: Tenant, scopes: tuple[str, ...] = ("objects:delete", "objects:read")) -> Any:
    secret, record = CredentialStore().issue_s3_key(tenant.organization.id, list(scopes))
    return s3_client(record.access_key_id, secret)


def delete_document(*entries: tuple[str, str | None], quiet: bool = False) -> bytes:
    objects = "".join(f"<Object><Key>{key}</Key>" + (f"<VersionId>{version}</VersionId>" if version else "")
                      + "</Object>" for key, version in entries)
    return f'<Delete {NS}>{objects}{"<Quiet>true</Quiet>" if quiet else ""}</Delete>'.encode()


def md5_header(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}  # noqa: S324


def post(tenant: Tenant, body: bytes | None, headers: dict[str, str] | None = None, *, bucket: str = "photos",
         query: dict[str, str] | None = None) -> dict[str, Any]:
    event = api_event("POST", RESOURCE, {"bucket": bucket}, query={"delete": ""} if query is None else query,
                      headers={**tenant.headers, **(headers or {})}, body=body, content_type="application/xml")
    return invoke("delete_objects", event)


# --- with boto3 --------------------------------------------------------------------------------------------------------
def test_boto3_delete_objects_deletes_exactly_the_named_keys(tenant: Tenant, other_tenant: Tenant) -> None:
    for key in ("prefix/a.txt", "prefix/b.txt", "prefixed/a.txt"):
        tenant.put(key)
    other_tenant.put("prefix/a.txt")

    answer = client_of(tenant).delete_objects(Bucket="photos", Delete={"Objects": [
        {"Key": "prefix/a.txt"}, {"Key": "prefix/b.txt"}, {"Key": "prefix/never-existed"}]})

    assert sorted(item["Key"] for item in answer["Deleted"]) == ["prefix/a.txt", "prefix/b.txt",
                                                                  "prefix/never-existed"]
    assert "Errors" not in answer
    assert tenant.keys() == ["prefixed/a.txt"]
    assert other_tenant.keys() == ["prefix/a.txt"]


def test_boto3_delete_objects_on_a_trash_bucket_adds_delete_markers_and_reports_them(tenant: Tenant) -> None:
    bucket = tenant.add_bucket("media", versioned=True)
    tenant.put("a.txt", bucket=bucket)

    answer = client_of(tenant).delete_objects(Bucket="media", Delete={"Objects": [{"Key": "a.txt"}]})

    (deleted,) = answer["Deleted"]
    markers = [version for key, version, is_marker in tenant.versions(bucket) if is_marker]
    assert deleted["DeleteMarker"] is True and deleted["DeleteMarkerVersionId"] == markers[0]
    assert len(tenant.versions(bucket)) == 2  # the object stays as a noncurrent version: the trash


def test_boto3_delete_objects_with_versions_deletes_those_versions_only(tenant: Tenant) -> None:
    bucket = tenant.add_bucket("media", versioned=True)
    first = tenant.put("a.txt", b"1", bucket=bucket)["VersionId"]
    second = tenant.put("a.txt", b"2", bucket=bucket)["VersionId"]
    tenant.put("b.txt", bucket=bucket)
    marker = tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key="b.txt")["VersionId"]

    answer = client_of(tenant).delete_objects(Bucket="media", Delete={"Objects": [
        {"Key": "a.txt", "VersionId": first}, {"Key": "b.txt", "VersionId": marker}]})

    by_key = {item["Key"]: item for item in answer["Deleted"]}
    assert by_key["a.txt"]["VersionId"] == first and "DeleteMarker" not in by_key["a.txt"]
    assert by_key["b.txt"]["DeleteMarker"] is True and by_key["b.txt"]["DeleteMarkerVersionId"] == marker
    remaining = tenant.versions(bucket)
    assert ("a.txt", second, False) in remaining and all(version != first for _, version, _ in remaining)
    assert tenant.keys(bucket) == ["a.txt", "b.txt"]  # b.txt is back: its marker is gone


def test_an_unknown_version_id_deletes_nothing_and_is_reported_without_a_marker(tenant: Tenant) -> None:
    tenant.put("a.txt")  # unversioned: moto would delete a.txt for an id it does not know
    unknown = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"

    answer = client_of(tenant).delete_objects(Bucket="photos", Delete={"Objects": [
        {"Key": "a.txt", "VersionId": unknown}]})

    assert answer["Deleted"] == [{"Key": "a.txt", "VersionId": unknown}]
    assert tenant.keys() == ["a.txt"]


def test_a_malformed_version_id_is_that_key_s_error_and_the_others_are_deleted(tenant: Tenant) -> None:
    tenant.put("a.txt")
    tenant.put("b.txt")

    answer = client_of(tenant).delete_objects(Bucket="photos", Delete={"Objects": [
        {"Key": "a.txt", "VersionId": "../../x"}, {"Key": "b.txt"}]})

    assert [item["Key"] for item in answer["Deleted"]] == ["b.txt"]
    assert answer["Errors"] == [{"Key": "a.txt", "VersionId": "../../x", "Code": "InvalidArgument",
                                 "Message": "Invalid version id specified"}]
    assert tenant.keys() == ["a.txt"]


def test_quiet_mode_leaves_the_deleted_entries_out(tenant: Tenant) -> None:
    tenant.put("a.txt")

    answer = client_of(tenant).delete_objects(Bucket="photos", Delete={"Objects": [{"Key": "a.txt"}],
                                                                       "Quiet": True})

    assert "Deleted" not in answer and "Errors" not in answer
    assert tenant.keys() == []


def test_another_organization_s_bucket_is_no_such_bucket_and_untouched(tenant: Tenant, other_tenant: Tenant) -> None:
    other_tenant.put("a.txt")

    with pytest.raises(ClientError) as raised:
        client_of(tenant).delete_objects(Bucket=other_tenant.bucket.s3_bucket, Delete={"Objects": [{"Key": "a.txt"}]})

    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert other_tenant.keys() == ["a.txt"]


def test_a_key_without_the_delete_scope_is_access_denied(tenant: Tenant) -> None:
    tenant.put("a.txt")

    with pytest.raises(ClientError) as raised:
        client_of(tenant, ("objects:read",)).delete_objects(Bucket="photos", Delete={"Objects": [{"Key": "a.txt"}]})

    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert tenant.keys() == ["a.txt"]


def test_a_key_with_a_carriage_return_is_deleted_as_that_key(tenant: Tenant) -> None:
    tenant.put("a\rb")
    tenant.put("a\nb")

    answer = client_of(tenant).delete_objects(Bucket="photos", Delete={"Objects": [{"Key": "a\rb"}]})

    assert [item["Key"] for item in answer["Deleted"]] == ["a\rb"]
    assert tenant.keys() == ["a\nb"]


# --- integrity -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("header,digest", [
    ("x-amz-checksum-crc32", lambda body: zlib.crc32(body).to_bytes(4, "big")),
    ("x-amz-checksum-crc32c", crc32c),
    ("x-amz-checksum-crc64nvme", crc64nvme),
    ("x-amz-checksum-sha1", lambda body: hashlib.sha1(body).digest()),  # noqa: S324
    ("x-amz-checksum-sha256", lambda body: hashlib.sha256(body).digest()),
    ("Content-MD5", lambda body: hashlib.md5(body).digest()),  # noqa: S324
])
def test_each_integrity_header_is_accepted_when_it_matches(tenant: Tenant, header: str, digest: Any) -> None:
    tenant.put("a.txt")
    body = delete_document(("a.txt", None))
    algorithm = header.removeprefix("x-amz-checksum-").upper()
    extra = {"x-amz-sdk-checksum-algorithm": algorithm} if header.startswith("x-amz") else {}

    response = post(tenant, body, {header: base64.b64encode(digest(body)).decode(), **extra})

    assert response["statusCode"] == 200, response["body"]
    assert "<Deleted><Key>a.txt</Key></Deleted>" in response["body"]
    assert tenant.keys() == []


def test_the_published_check_values_of_crc32c_and_crc64nvme() -> None:
    assert crc32c(b"123456789").hex() == "e3069283"
    assert crc64nvme(b"123456789").hex() == "ae8b14860a799888"


@pytest.mark.parametrize("headers,status,code", [
    ({}, 400, "InvalidRequest"),
    ({"Content-MD5": base64.b64encode(b"0" * 16).decode()}, 400, "BadDigest"),
    ({"Content-MD5": "not base64!"}, 400, "InvalidDigest"),
    ({"x-amz-checksum-crc32": base64.b64encode(b"\0\0\0\0").decode()}, 400, "BadDigest"),
    ({"x-amz-sdk-checksum-algorithm": "CRC32"}, 400, "InvalidRequest"),
    ({"x-amz-checksum-md7": "AAAA"}, 400, "InvalidRequest"),
])
def test_a_missing_or_wrong_digest_is_refused_and_deletes_nothing(tenant: Tenant, headers: dict[str, str],
                                                                  status: int, code: str) -> None:
    tenant.put("a.txt")

    response = post(tenant, delete_document(("a.txt", None)), headers)

    assert_error(response, status, code)
    assert tenant.keys() == ["a.txt"]


# --- the XML ---------------------------------------------------------------------------------------------------------
BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
        b"<Delete><Object><Key>&lol2;</Key></Object></Delete>")
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<Delete><Object><Key>&x;</Key></Object></Delete>")


@pytest.mark.parametrize("body", [
    b"not xml", b"<Delete>", BOMB, EXTERNAL, b"<Delete></Delete>", b"<Other><Object><Key>a.txt</Key></Object></Other>",
    b"<Delete><Object><VersionId>x</VersionId></Object></Delete>",
    b"<Delete><Object><Key>a.txt</Key><Key>b.txt</Key></Object></Delete>",
    b"<Delete><Object><Key>a.txt</Key><Unknown/></Object></Delete>",
    b"<Delete><Object><Key>a.txt</Key></Object><Quiet>maybe</Quiet></Delete>",
    b'<Delete xmlns="urn:other"><Object><Key>a.txt</Key></Object></Delete>',
    b"<Delete>text<Object><Key>a.txt</Key></Object></Delete>",
], ids=["text", "truncated", "entity-bomb", "external-entity", "no-object", "other-root", "no-key", "two-keys",
        "unknown-field", "bad-quiet", "other-namespace", "stray-text"])
def test_anything_but_s3_s_delete_document_is_malformed_xml_and_deletes_nothing(tenant: Tenant, body: bytes) -> None:
    tenant.put("a.txt")

    response = post(tenant, body, md5_header(body))

    assert_error(response, 400, "MalformedXML")
    assert tenant.keys() == ["a.txt"]


def test_more_than_1000_objects_is_malformed_xml_and_deletes_nothing(tenant: Tenant) -> None:
    tenant.put("k0")
    body = delete_document(*((f"k{number}", None) for number in range(1001)))

    response = post(tenant, body, md5_header(body))

    assert_error(response, 400, "MalformedXML")
    assert tenant.keys() == ["k0"]


def test_exactly_1000_objects_are_deleted(tenant: Tenant) -> None:
    for number in range(3):
        tenant.put(f"k{number}")
    body = delete_document(*((f"k{number}", None) for number in range(1000)))

    response = post(tenant, body, md5_header(body))

    assert response["statusCode"] == 200
    assert response["body"].count("<Deleted>") == 1000
    assert tenant.keys() == []


def test_an_empty_body_is_missing_request_body(tenant: Tenant) -> None:
    assert_error(post(tenant, None), 400, "MissingRequestBodyError")


def test_per_object_conditions_are_refused_for_that_key(tenant: Tenant) -> None:
    tenant.put("a.txt")
    body = f'<Delete {NS}><Object><Key>a.txt</Key><ETag>"abc"</ETag></Object></Delete>'.encode()

    response = post(tenant, body, md5_header(body))

    assert response["statusCode"] == 200
    assert "<Error><Key>a.txt</Key><Code>NotImplemented</Code>" in response["body"]
    assert tenant.keys() == ["a.txt"]


# --- other operations on POST /{bucket} ----------------------------------------------------------------------------------
@pytest.mark.parametrize("query", [{}, {"delete": "", "tagging": ""}, {"uploads": ""}, {"restore": ""}])
def test_post_without_delete_or_with_another_sub_resource_is_not_implemented(tenant: Tenant,
                                                                             query: dict[str, str]) -> None:
    tenant.put("a.txt")
    body = delete_document(("a.txt", None))

    response = post(tenant, body, md5_header(body), query=query)

    assert_error(response, 501, "NotImplemented")
    assert tenant.keys() == ["a.txt"]


def test_the_answer_carries_s3_s_identifying_headers(tenant: Tenant) -> None:
    body = delete_document(("a.txt", None))

    response = post(tenant, body, md5_header(body))

    assert response_header(response, "Content-Type") == "application/xml"
    assert response_header(response, "x-amz-request-id") and response_header(response, "x-amz-id-2")
