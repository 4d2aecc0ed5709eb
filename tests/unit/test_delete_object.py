"""DELETE /s3/{bucket}/{key+}: S3's DeleteObject through the real handler on moto, the bucket checked afterwards."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from eraser import aws
from eraser.auth import CredentialStore, issue_jwt
from eraser.clock import utc_now
from eraser.config import settings
from eraser.storage import retries
from eraser.tenancy import BucketConfiguration, OrganizationStatus, TenancyRepository
from tests.support import LambdaContext, Tenant, api_event, invoke, load_event, response_header

RESOURCE = "/s3/{bucket}/{key+}"


# --- helpers -----------------------------------------------------------------------------------------------------------
def delete(tenant: Tenant, key: str, *, bucket: str = "photos", version_id: str | None = None,
           headers: dict[str, str] | None = None, credentials: dict[str, str] | None = None,
           query: dict[str, str] | None = None, context: LambdaContext | None = None) -> dict[str, Any]:
    query = {**({"versionId": version_id} if version_id is not None else {}), **(query or {})}
    all_headers = {**(tenant.headers if credentials is None else credentials), **(headers or {})}
    event = api_event("DELETE", RESOURCE, {"bucket": bucket, "key": key}, query=query or None, headers=all_headers,
                      content_type=None)
    return invoke("delete_object", event, context)


def s3_error(response: dict[str, Any]) -> dict[str, str]:
    """The S3 error document as a dict; its RequestId is also the x-amz-request-id header."""
    assert response_header(response, "Content-Type") == "application/xml"
    root = ElementTree.fromstring(response["body"].split("\n", 1)[1])  # noqa: S314 - our own response
    assert root.tag == "Error"
    fields = {child.tag: child.text or "" for child in root}
    assert set(fields) == {"Code", "Message", "Resource", "RequestId"}
    assert fields["RequestId"] and fields["RequestId"] == response_header(response, "x-amz-request-id")
    return fields


def assert_error(response: dict[str, Any], status: int, code: str) -> dict[str, str]:
    assert response["statusCode"] == status, response.get("body")
    fields = s3_error(response)
    assert fields["Code"] == code
    return fields


def assert_no_content(response: dict[str, Any]) -> None:
    assert response["statusCode"] == 204, response.get("body")
    assert not response.get("body")
    assert response_header(response, "x-amz-request-id")


def head(tenant: Tenant, key: str, bucket: Any = None) -> dict[str, Any]:
    return tenant.s3.head_object(Bucket=(bucket or tenant.bucket).s3_bucket, Key=key)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@pytest.fixture
def versioned(tenant: Tenant):
    return tenant.add_bucket("versioned", versioned=True)


@pytest.fixture
def locked(tenant: Tenant):
    return tenant.add_bucket("locked", object_lock=True)


def markers(tenant: Tenant, bucket: Any) -> list[tuple[str, str, bool]]:
    return [entry for entry in tenant.versions(bucket) if entry[2]]


# --- unversioned buckets ---------------------------------------------------------------------------------------------
def test_delete_removes_the_object_from_an_unversioned_bucket(tenant):
    tenant.put("a.txt")
    tenant.put("b.txt")
    response = delete(tenant, "a.txt")
    assert_no_content(response)
    assert response_header(response, "x-amz-delete-marker") is None
    assert response_header(response, "x-amz-version-id") is None
    assert tenant.keys() == ["b.txt"]


def test_delete_of_a_missing_key_is_204_and_idempotent(tenant):
    tenant.put("kept.txt")
    assert_no_content(delete(tenant, "never-existed.txt"))
    tenant.put("twice.txt")
    assert_no_content(delete(tenant, "twice.txt"))
    assert_no_content(delete(tenant, "twice.txt"))
    assert tenant.keys() == ["kept.txt"]


@pytest.mark.parametrize("key", [
    "reports/2024/q1.csv",
    "dossier/été/日本語 ✓.txt",
    "emoji 😀/a+b=c&d.txt",
    "100%41literal",
    "trailing/slash/",
    "line\nbreak and \"quotes\" and ?#",
])
def test_keys_with_slashes_and_any_utf8_delete_exactly_that_key(tenant, key):
    tenant.put(key)
    tenant.put("100Aliteral")  # what "100%41literal" would become if it were URL-decoded twice
    tenant.put(key + "-sibling")
    assert_no_content(delete(tenant, key))
    assert key not in tenant.keys()
    assert {"100Aliteral", key + "-sibling"} <= set(tenant.keys())


def test_key_of_exactly_1024_utf8_bytes_is_deleted(tenant):
    key = "é" * 512
    tenant.put(key)
    assert_no_content(delete(tenant, key))
    assert tenant.keys() == []


def test_key_over_1024_utf8_bytes_is_key_too_long(tenant):
    tenant.put("kept.txt")
    fields = assert_error(delete(tenant, "é" * 512 + "x"), 400, "KeyTooLongError")
    assert fields["Message"] == "Your key is too long"
    assert tenant.keys() == ["kept.txt"]


def test_key_that_is_not_valid_utf8_is_invalid_argument(tenant):
    tenant.put("kept.txt")
    # "\ud800" is valid JSON, so API Gateway's event can carry it even though it has no UTF-8 form.
    event = api_event("DELETE", RESOURCE, {"bucket": "photos", "key": "placeholder"}, headers=tenant.headers,
                      content_type=None)
    event["pathParameters"]["key"] = "bad\ud800key"
    event["path"] = "/s3/photos/bad\ud800key"
    assert_error(invoke("delete_object", event), 400, "InvalidArgument")
    assert tenant.keys() == ["kept.txt"]


# --- versioning --------------------------------------------------------------------------------------------------------
def test_versioned_delete_without_version_id_only_adds_a_delete_marker(tenant, versioned):
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    response = delete(tenant, "doc.txt", bucket="versioned")
    assert_no_content(response)
    assert response_header(response, "x-amz-delete-marker") == "true"
    marker_id = response_header(response, "x-amz-version-id")
    assert tenant.versions(versioned) == sorted([("doc.txt", version, False), ("doc.txt", marker_id, True)])
    assert tenant.keys(versioned) == []


def test_delete_with_version_id_removes_that_version_for_good(tenant, versioned):
    old = tenant.put("doc.txt", "old", bucket=versioned)["VersionId"]
    new = tenant.put("doc.txt", "new", bucket=versioned)["VersionId"]
    response = delete(tenant, "doc.txt", bucket="versioned", version_id=old)
    assert_no_content(response)
    assert response_header(response, "x-amz-version-id") == old
    assert response_header(response, "x-amz-delete-marker") is None
    assert tenant.versions(versioned) == [("doc.txt", new, False)]


def test_deleting_a_delete_marker_by_version_id_says_so_and_restores_the_object(tenant, versioned):
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    marker_id = tenant.s3.delete_object(Bucket=versioned.s3_bucket, Key="doc.txt")["VersionId"]
    response = delete(tenant, "doc.txt", bucket="versioned", version_id=marker_id)
    assert_no_content(response)
    assert response_header(response, "x-amz-delete-marker") == "true"
    assert response_header(response, "x-amz-version-id") == marker_id
    assert tenant.versions(versioned) == [("doc.txt", version, False)]
    assert tenant.keys(versioned) == ["doc.txt"]


def test_null_version_from_before_versioning_is_deleted_by_version_id_null(tenant):
    bucket = tenant.add_bucket("later")
    tenant.put("doc.txt", "before versioning", bucket=bucket)
    tenant.s3.put_bucket_versioning(Bucket=bucket.s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    newer = tenant.put("doc.txt", "after", bucket=bucket)["VersionId"]
    assert ("doc.txt", "null", False) in tenant.versions(bucket)
    response = delete(tenant, "doc.txt", bucket="later", version_id="null")
    assert_no_content(response)
    assert response_header(response, "x-amz-version-id") == "null"
    assert tenant.versions(bucket) == [("doc.txt", newer, False)]


def test_well_formed_unknown_version_id_is_204_and_deletes_nothing(tenant, versioned):
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    assert_no_content(delete(tenant, "doc.txt", bucket="versioned", version_id="KC0WuaPTHv7At3olS.BPuH.weAJqMkKJ"))
    assert_no_content(delete(tenant, "absent.txt", bucket="versioned", version_id="KC0WuaPTHv7At3olS.BPuH.weAJqMkKJ"))
    assert tenant.versions(versioned) == [("doc.txt", version, False)]


def test_version_id_null_deletes_the_object_of_an_unversioned_bucket(tenant):
    tenant.put("doc.txt")
    assert_no_content(delete(tenant, "doc.txt", version_id="null"))
    assert tenant.keys() == []


@pytest.mark.parametrize("version_id", ["", "not a version", "ver\u00e9sion", "a" * 1025, "semi;colon"])
def test_malformed_version_id_is_invalid_argument_and_deletes_nothing(tenant, versioned, version_id):
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    fields = assert_error(delete(tenant, "doc.txt", bucket="versioned", version_id=version_id), 400,
                          "InvalidArgument")
    assert fields["Message"] == "Invalid version id specified"
    assert tenant.versions(versioned) == [("doc.txt", version, False)]


def test_suspended_versioning_delete_hides_the_key_and_reports_nothing_moto_does_not_model(tenant):
    bucket = tenant.add_bucket("suspended", versioned=True)
    tenant.s3.put_bucket_versioning(Bucket=bucket.s3_bucket, VersioningConfiguration={"Status": "Suspended"})
    tenant.put("doc.txt", bucket=bucket)
    assert_no_content(delete(tenant, "doc.txt", bucket="suspended"))
    assert tenant.keys(bucket) == []


@pytest.mark.xfail(strict=True, reason="moto 5.2.5 treats a Suspended bucket as unversioned: a PUT replaces every "
                                       "version of the key and a DELETE drops them all without a null marker")
def test_suspended_versioning_replaces_the_null_version_with_a_null_marker_and_keeps_older_versions(tenant):
    bucket = tenant.add_bucket("suspended", versioned=True)
    kept = tenant.put("doc.txt", "from when versioning was enabled", bucket=bucket)["VersionId"]
    tenant.s3.put_bucket_versioning(Bucket=bucket.s3_bucket, VersioningConfiguration={"Status": "Suspended"})
    tenant.put("doc.txt", "null version", bucket=bucket)
    response = delete(tenant, "doc.txt", bucket="suspended")
    assert_no_content(response)
    assert response_header(response, "x-amz-delete-marker") == "true"
    assert response_header(response, "x-amz-version-id") == "null"
    assert tenant.versions(bucket) == sorted([("doc.txt", kept, False), ("doc.txt", "null", True)])


def test_trash_enabled_bucket_keeps_the_deleted_object_as_a_noncurrent_version(tenant):
    trash = tenant.add_bucket("trashed", configuration=BucketConfiguration(trash_enabled=True))
    version = tenant.put("doc.txt", bucket=trash)["VersionId"]
    response = delete(tenant, "doc.txt", bucket="trashed")
    assert_no_content(response)
    assert response_header(response, "x-amz-delete-marker") == "true"
    assert tenant.keys(trash) == []
    assert ("doc.txt", version, False) in tenant.versions(trash)
    # Deleting the trashed version itself is permanent.
    assert_no_content(delete(tenant, "doc.txt", bucket="trashed", version_id=version))
    assert [entry for entry in tenant.versions(trash) if not entry[2]] == []


# --- conditions --------------------------------------------------------------------------------------------------------
def etag_of(tenant: Tenant, key: str, bucket: Any = None) -> str:
    return head(tenant, key, bucket)["ETag"]


@pytest.mark.parametrize("form", ["quoted", "unquoted", "any"])
def test_if_match_that_holds_deletes(tenant, form):
    tenant.put("doc.txt", "content")
    etag = etag_of(tenant, "doc.txt")
    value = {"quoted": etag, "unquoted": etag.strip('"'), "any": "*"}[form]
    assert_no_content(delete(tenant, "doc.txt", headers={"If-Match": value}))
    assert tenant.keys() == []


@pytest.mark.parametrize("value", ['"0123456789abcdef0123456789abcdef"', "0123456789abcdef0123456789abcdef"])
def test_if_match_that_fails_is_precondition_failed_and_keeps_the_object(tenant, value):
    tenant.put("doc.txt", "content")
    fields = assert_error(delete(tenant, "doc.txt", headers={"If-Match": value}), 412, "PreconditionFailed")
    assert fields["Message"] == "At least one of the preconditions you specified did not hold."
    assert tenant.keys() == ["doc.txt"]


def test_if_match_size_that_holds_deletes_and_one_that_fails_keeps(tenant):
    tenant.put("doc.txt", b"12345")
    assert_error(delete(tenant, "doc.txt", headers={"x-amz-if-match-size": "4"}), 412, "PreconditionFailed")
    assert tenant.keys() == ["doc.txt"]
    assert_no_content(delete(tenant, "doc.txt", headers={"x-amz-if-match-size": "5"}))
    assert tenant.keys() == []


def test_if_match_size_zero_matches_an_empty_object(tenant):
    tenant.put("empty.txt", b"")
    assert_no_content(delete(tenant, "empty.txt", headers={"x-amz-if-match-size": "0"}))
    assert tenant.keys() == []


@pytest.mark.parametrize("form", ["rfc1123", "iso8601", "iso8601-millis"])
def test_if_match_last_modified_time_that_holds_deletes(tenant, form):
    tenant.put("doc.txt")
    modified = head(tenant, "doc.txt")["LastModified"].astimezone(UTC)
    value = {"rfc1123": http_date(modified),
             "iso8601": modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "iso8601-millis": modified.strftime("%Y-%m-%dT%H:%M:%S.000Z")}[form]
    assert_no_content(delete(tenant, "doc.txt", headers={"x-amz-if-match-last-modified-time": value}))
    assert tenant.keys() == []


def test_if_match_last_modified_time_that_fails_keeps_the_object(tenant):
    tenant.put("doc.txt")
    modified = head(tenant, "doc.txt")["LastModified"]
    for moment in (modified - timedelta(seconds=1), modified + timedelta(days=1)):
        response = delete(tenant, "doc.txt", headers={"x-amz-if-match-last-modified-time": http_date(moment)})
        assert_error(response, 412, "PreconditionFailed")
    assert tenant.keys() == ["doc.txt"]


def test_all_conditions_together_must_hold(tenant):
    tenant.put("doc.txt", b"abc")
    stored = head(tenant, "doc.txt")
    holding = {"If-Match": stored["ETag"], "x-amz-if-match-size": "3",
               "x-amz-if-match-last-modified-time": http_date(stored["LastModified"])}
    assert_error(delete(tenant, "doc.txt", headers={**holding, "x-amz-if-match-size": "4"}), 412,
                 "PreconditionFailed")
    assert tenant.keys() == ["doc.txt"]
    assert_no_content(delete(tenant, "doc.txt", headers=holding))
    assert tenant.keys() == []


CONDITIONS = [{"If-Match": "*"}, {"If-Match": '"0123456789abcdef0123456789abcdef"'}, {"x-amz-if-match-size": "1"},
              {"x-amz-if-match-last-modified-time": "Fri, 01 Mar 2024 12:00:00 GMT"}]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_condition_on_a_missing_key_is_no_such_key(tenant, condition):
    tenant.put("other.txt")
    fields = assert_error(delete(tenant, "missing.txt", headers=condition), 404, "NoSuchKey")
    assert fields["Resource"] == "/photos/missing.txt"
    assert tenant.keys() == ["other.txt"]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_condition_on_a_key_whose_current_version_is_a_marker_is_no_such_key_and_adds_no_marker(
        tenant, versioned, condition):
    tenant.put("doc.txt", bucket=versioned)
    tenant.s3.delete_object(Bucket=versioned.s3_bucket, Key="doc.txt")
    before = tenant.versions(versioned)
    assert_error(delete(tenant, "doc.txt", bucket="versioned", headers=condition), 404, "NoSuchKey")
    assert tenant.versions(versioned) == before


def test_condition_on_a_versioned_bucket_adds_a_marker_only_when_it_holds(tenant, versioned):
    version = tenant.put("doc.txt", b"abc", bucket=versioned)["VersionId"]
    assert_error(delete(tenant, "doc.txt", bucket="versioned", headers={"x-amz-if-match-size": "9"}), 412,
                 "PreconditionFailed")
    assert tenant.versions(versioned) == [("doc.txt", version, False)]
    response = delete(tenant, "doc.txt", bucket="versioned", headers={"If-Match": etag_of(tenant, "doc.txt", versioned)})
    assert_no_content(response)
    assert response_header(response, "x-amz-delete-marker") == "true"
    assert len(markers(tenant, versioned)) == 1


def test_conditions_with_a_version_id_are_judged_on_the_current_version(tenant, versioned):
    old = tenant.put("doc.txt", "old", bucket=versioned)["VersionId"]
    old_etag = head(tenant, "doc.txt", versioned)["ETag"]
    new = tenant.put("doc.txt", "newer", bucket=versioned)["VersionId"]
    current_etag = etag_of(tenant, "doc.txt", versioned)
    assert_error(delete(tenant, "doc.txt", bucket="versioned", version_id=old, headers={"If-Match": old_etag}), 412,
                 "PreconditionFailed")
    assert len(tenant.versions(versioned)) == 2
    assert_no_content(delete(tenant, "doc.txt", bucket="versioned", version_id=old,
                             headers={"If-Match": current_etag}))
    assert tenant.versions(versioned) == [("doc.txt", new, False)]


@pytest.mark.parametrize(("header", "value"), [
    ("x-amz-if-match-size", "-1"), ("x-amz-if-match-size", "abc"), ("x-amz-if-match-size", "1.5"),
    ("x-amz-if-match-size", ""), ("x-amz-if-match-size", "+3"), ("x-amz-if-match-size", "1" * 20),
    ("x-amz-if-match-size", "9" * 5_000),
    ("x-amz-if-match-last-modified-time", "yesterday"), ("x-amz-if-match-last-modified-time", "2024-13-45"),
    ("x-amz-if-match-last-modified-time", ""),
    ("If-Match", ""), ("If-Match", '""'),
])
def test_malformed_condition_is_400_and_deletes_nothing(tenant, header, value):
    tenant.put("doc.txt", b"abc")
    assert_error(delete(tenant, "doc.txt", headers={header: value}), 400, "InvalidArgument")
    assert tenant.keys() == ["doc.txt"]


# --- expected owner, MFA, request payer --------------------------------------------------------------------------------
def test_expected_bucket_owner_that_matches_deletes(tenant):
    tenant.put("doc.txt")
    response = delete(tenant, "doc.txt", headers={"x-amz-expected-bucket-owner": tenant.organization.account_id})
    assert_no_content(response)
    assert tenant.keys() == []


@pytest.mark.parametrize("owner", ["210987654321", "not-an-account", ""])
def test_expected_bucket_owner_that_differs_is_access_denied_and_touches_nothing(tenant, versioned, owner):
    tenant.put("doc.txt")
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    assert_error(delete(tenant, "doc.txt", headers={"x-amz-expected-bucket-owner": owner}), 403, "AccessDenied")
    assert_error(delete(tenant, "doc.txt", bucket="versioned", headers={"x-amz-expected-bucket-owner": owner}), 403,
                 "AccessDenied")
    assert tenant.keys() == ["doc.txt"]
    assert tenant.versions(versioned) == [("doc.txt", version, False)]


@pytest.mark.parametrize("mfa", ["", "123456", "SERIAL 12345", "SERIAL  123456", "SERIAL abcdef", "SERIAL 1234567"])
def test_malformed_mfa_is_invalid_argument_and_deletes_nothing(tenant, versioned, mfa):
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    assert_error(delete(tenant, "doc.txt", bucket="versioned", version_id=version, headers={"x-amz-mfa": mfa}), 400,
                 "InvalidArgument")
    assert tenant.versions(versioned) == [("doc.txt", version, False)]


def test_well_formed_mfa_is_passed_on_and_the_version_is_deleted(tenant, versioned):
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    mfa = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
    assert_no_content(delete(tenant, "doc.txt", bucket="versioned", version_id=version, headers={"x-amz-mfa": mfa}))
    assert tenant.versions(versioned) == []


def test_request_payer_requester_is_answered_with_request_charged(tenant):
    tenant.put("a.txt")
    tenant.put("b.txt")
    charged = delete(tenant, "a.txt", headers={"x-amz-request-payer": "requester"})
    assert_no_content(charged)
    assert response_header(charged, "x-amz-request-charged") == "requester"
    plain = delete(tenant, "b.txt")
    assert_no_content(plain)
    assert response_header(plain, "x-amz-request-charged") is None
    assert tenant.keys() == []


def test_request_payer_other_than_requester_is_invalid_argument(tenant):
    tenant.put("a.txt")
    assert_error(delete(tenant, "a.txt", headers={"x-amz-request-payer": "bucket-owner"}), 400, "InvalidArgument")
    assert tenant.keys() == ["a.txt"]


# --- Object Lock -------------------------------------------------------------------------------------------------------
def retained(tenant: Tenant, bucket: Any, mode: str, key: str = "doc.txt") -> str:
    until = utc_now() + timedelta(days=1)
    return tenant.put(key, bucket=bucket, ObjectLockMode=mode, ObjectLockRetainUntilDate=until)["VersionId"]


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_version_under_retention_is_access_denied_and_kept(tenant, locked, mode):
    version = retained(tenant, locked, mode)
    fields = assert_error(delete(tenant, "doc.txt", bucket="locked", version_id=version), 403, "AccessDenied")
    assert "object lock" in fields["Message"]
    assert tenant.versions(locked) == [("doc.txt", version, False)]


def test_version_under_legal_hold_is_access_denied_even_with_bypass(tenant, locked):
    version = tenant.put("doc.txt", bucket=locked, ObjectLockLegalHoldStatus="ON")["VersionId"]
    response = delete(tenant, "doc.txt", bucket="locked", version_id=version,
                      headers={"x-amz-bypass-governance-retention": "true"})
    assert_error(response, 403, "AccessDenied")
    assert tenant.versions(locked) == [("doc.txt", version, False)]


def test_governance_retention_is_bypassed_with_the_header(tenant, locked):
    version = retained(tenant, locked, "GOVERNANCE")
    response = delete(tenant, "doc.txt", bucket="locked", version_id=version,
                      headers={"x-amz-bypass-governance-retention": "true"})
    assert_no_content(response)
    assert tenant.versions(locked) == []


def test_bypass_header_false_does_not_bypass(tenant, locked):
    version = retained(tenant, locked, "GOVERNANCE")
    response = delete(tenant, "doc.txt", bucket="locked", version_id=version,
                      headers={"x-amz-bypass-governance-retention": "false"})
    assert_error(response, 403, "AccessDenied")
    assert tenant.versions(locked) == [("doc.txt", version, False)]


def test_compliance_retention_cannot_be_bypassed(tenant, locked):
    version = retained(tenant, locked, "COMPLIANCE")
    response = delete(tenant, "doc.txt", bucket="locked", version_id=version,
                      headers={"x-amz-bypass-governance-retention": "true"})
    assert_error(response, 403, "AccessDenied")
    assert tenant.versions(locked) == [("doc.txt", version, False)]


def test_malformed_bypass_header_is_invalid_argument(tenant, locked):
    version = retained(tenant, locked, "GOVERNANCE")
    response = delete(tenant, "doc.txt", bucket="locked", version_id=version,
                      headers={"x-amz-bypass-governance-retention": "yes please"})
    assert_error(response, 400, "InvalidArgument")
    assert tenant.versions(locked) == [("doc.txt", version, False)]


@pytest.mark.parametrize("lock", ["GOVERNANCE", "COMPLIANCE", "legal hold"])
def test_delete_without_version_id_of_a_locked_object_only_adds_a_marker(tenant, locked, lock):
    if lock == "legal hold":
        version = tenant.put("doc.txt", bucket=locked, ObjectLockLegalHoldStatus="ON")["VersionId"]
    else:
        version = retained(tenant, locked, lock)
    response = delete(tenant, "doc.txt", bucket="locked")
    assert_no_content(response)
    assert response_header(response, "x-amz-delete-marker") == "true"
    marker_id = response_header(response, "x-amz-version-id")
    assert tenant.versions(locked) == sorted([("doc.txt", version, False), ("doc.txt", marker_id, True)])


def test_unlocked_version_in_a_lock_enabled_bucket_is_deleted(tenant, locked):
    version = tenant.put("doc.txt", bucket=locked)["VersionId"]
    assert_no_content(delete(tenant, "doc.txt", bucket="locked", version_id=version))
    assert tenant.versions(locked) == []


# --- buckets and tenancy -----------------------------------------------------------------------------------------------
def test_unknown_bucket_is_no_such_bucket(tenant):
    tenant.put("doc.txt")
    fields = assert_error(delete(tenant, "doc.txt", bucket="nope"), 404, "NoSuchBucket")
    assert fields["Resource"] == "/nope/doc.txt"
    assert tenant.keys() == ["doc.txt"]


def test_bucket_of_another_organization_is_no_such_bucket_and_nothing_is_deleted(tenant, other_tenant):
    secrets = other_tenant.add_bucket("secrets")
    other_tenant.put("doc.txt", bucket=secrets)
    other_tenant.put("doc.txt")
    for name in ("secrets", secrets.id, secrets.s3_bucket, other_tenant.bucket.id):
        assert_error(delete(tenant, "doc.txt", bucket=name), 404, "NoSuchBucket")
    assert other_tenant.keys(secrets) == ["doc.txt"]
    assert other_tenant.keys() == ["doc.txt"]


def test_same_bucket_name_in_two_organizations_deletes_only_the_callers_object(tenant, other_tenant):
    tenant.put("doc.txt")
    other_tenant.put("doc.txt")
    assert_no_content(delete(tenant, "doc.txt"))
    assert tenant.keys() == []
    assert other_tenant.keys() == ["doc.txt"]


# --- credentials -------------------------------------------------------------------------------------------------------
def _expired_key(tenant: Tenant) -> dict[str, str]:
    api_key, _ = CredentialStore().issue(tenant.organization.id, ["objects:delete"],
                                         expires_at=utc_now() - timedelta(seconds=1))
    return {"X-Api-Key": api_key}


CREDENTIAL_FAILURES = {
    "missing": (lambda tenant: {}, 403, "AccessDenied"),
    "invalid": (lambda tenant: {"X-Api-Key": tenant.api_key[:-2] + "zz"}, 403, "InvalidAccessKeyId"),
    "expired": (_expired_key, 400, "ExpiredToken"),
    "scope": (lambda tenant: {"X-Api-Key": tenant.key_with_scopes("tasks:read", "buckets:purge")}, 403,
              "AccessDenied"),
}


@pytest.mark.parametrize("failure", sorted(CREDENTIAL_FAILURES))
def test_credential_failures_are_s3_errors_and_delete_nothing(tenant, failure):
    make_credentials, status, code = CREDENTIAL_FAILURES[failure]
    tenant.put("doc.txt")
    assert_error(delete(tenant, "doc.txt", credentials=make_credentials(tenant)), status, code)
    assert tenant.keys() == ["doc.txt"]


@pytest.mark.parametrize(("status", "code"), [(OrganizationStatus.SUSPENDED, "AllAccessDisabled"),
                                              (OrganizationStatus.NOT_ACTIVATED, "AccountProblem")])
def test_inactive_organization_is_refused_and_deletes_nothing(tenant, status, code):
    tenant.put("doc.txt")
    TenancyRepository().set_organization_status(tenant.organization.id, status)
    assert_error(delete(tenant, "doc.txt"), 403, code)
    assert tenant.keys() == ["doc.txt"]


def test_credentials_are_checked_before_the_request_is_validated(tenant):
    tenant.put("doc.txt")
    assert_error(delete(tenant, "doc.txt", version_id="not valid", credentials={}), 403, "AccessDenied")
    assert tenant.keys() == ["doc.txt"]


def test_jwt_with_the_objects_delete_scope_deletes(tenant):
    tenant.put("doc.txt")
    token = issue_jwt(settings().jwt_secret, "alice", tenant.organization.id, ["objects:delete"],
                      utc_now() + timedelta(minutes=5))
    assert_no_content(delete(tenant, "doc.txt", credentials={"Authorization": f"Bearer {token}"}))
    assert tenant.keys() == []


# --- S3's own refusals -------------------------------------------------------------------------------------------------
class CountdownContext(LambdaContext):
    """A Lambda context whose time passes only while Eraser waits between attempts (no real sleeping)."""

    def advance(self, seconds: float) -> None:
        self._remaining_ms -= int(seconds * 1000)


class S3AnswersEveryCall:
    """A botocore ``before-call`` hook on the request client that answers every S3 call itself with ``status`` and
    ``code``, as botocore would have parsed S3's answer; nothing reaches the backend (moto's own hook is later)."""

    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code
        self.operations: list[str] = []
        # Each answer takes this long on the context's clock (S3 under load is slow to say SlowDown too).
        self.context: CountdownContext | None = None
        self.call_seconds = 3.0

    def __call__(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.operations.append(model.name)
        if self.context is not None:
            self.context.advance(self.call_seconds)
        parsed = {"Error": {"Code": self.code, "Message": "Reduce your request rate."},
                  "ResponseMetadata": {"HTTPStatusCode": self.status, "HTTPHeaders": {}}}
        return AWSResponse("https://s3.amazonaws.com", self.status, {}, None), parsed


@pytest.fixture
def slow_down(monkeypatch) -> Any:
    answer = S3AnswersEveryCall(503, "SlowDown")
    client = aws.s3_single_attempt()
    client.meta.events.register_first("before-call.s3", answer)
    yield answer
    client.meta.events.unregister("before-call.s3", answer)


@pytest.mark.parametrize("remaining_ms", [14_000, 28_000, 60_000])
def test_s3_slow_down_on_every_call_is_503_slow_down_before_the_function_ends(tenant, versioned, slow_down,
                                                                              monkeypatch, remaining_ms):
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    for version_id in (None, version):
        context = slow_down.context = CountdownContext(remaining_ms)
        monkeypatch.setattr(retries, "wait", context.advance)
        response = delete(tenant, "doc.txt", bucket="versioned", version_id=version_id, context=context)
        fields = assert_error(response, 503, "SlowDown")
        assert fields["Message"] == "Reduce your request rate."
        assert response_header(response, "Retry-After") == "1"
        # Answered before the function's end, with the answer's reserve left.
        assert context.get_remaining_time_in_millis() >= 1000
    assert 2 <= len(slow_down.operations) <= 2 * 8
    assert tenant.versions(versioned) == [("doc.txt", version, False)]


def test_s3_internal_errors_past_the_deadline_are_503_service_unavailable_with_retry_after(tenant, monkeypatch):
    tenant.put("doc.txt")
    failing = S3AnswersEveryCall(500, "InternalError")
    client = aws.s3_single_attempt()
    client.meta.events.register_first("before-call.s3", failing)
    context = failing.context = CountdownContext(20_000)
    monkeypatch.setattr(retries, "wait", context.advance)
    try:
        response = delete(tenant, "doc.txt", context=context)
    finally:
        client.meta.events.unregister("before-call.s3", failing)
    assert_error(response, 503, "ServiceUnavailable")
    assert context.get_remaining_time_in_millis() >= 1000
    assert response_header(response, "Retry-After") == "1"
    assert tenant.keys() == ["doc.txt"]


def test_a_throttled_call_is_retried_and_then_deletes(tenant):
    tenant.put("doc.txt")
    with Stubber(aws.s3_single_attempt()) as stubber:
        stubber.add_client_error("delete_object", service_error_code="SlowDown", http_status_code=503)
        stubber.add_response("delete_object", {})
        assert_no_content(delete(tenant, "doc.txt"))
        stubber.assert_no_pending_responses()


def test_s3_conditional_conflict_is_409(tenant):
    with Stubber(aws.s3_single_attempt()) as stubber:
        stubber.add_client_error("delete_object", service_error_code="ConditionalRequestConflict", http_status_code=409)
        response = delete(tenant, "doc.txt")
    assert_error(response, 409, "ConditionalRequestConflict")


# --- the event file ----------------------------------------------------------------------------------------------------
def test_event_file_deletes_the_key_it_names(tenant):
    event = load_event("delete_object.json")
    event["headers"]["X-Api-Key"] = tenant.api_key
    event["multiValueHeaders"]["X-Api-Key"] = [tenant.api_key]
    bucket, key = event["pathParameters"]["bucket"], event["pathParameters"]["key"]
    demo = tenant.add_bucket(bucket)  # the event targets the demo bucket `make run` seeds
    tenant.put(key, bucket=demo)
    tenant.put("reports/2024/q2.csv", bucket=demo)
    response = invoke("delete_object", event)
    assert_no_content(response)
    assert tenant.keys(demo) == ["reports/2024/q2.csv"]


# --- only DeleteObject's own request syntax ----------------------------------------------------------------------------
def event_with_query(tenant: Tenant, key: str, multi_value_query: dict[str, list[str]], *, bucket: str = "photos",
                     headers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """An event as API Gateway builds it: ``queryStringParameters`` holds each parameter's last value (``?tagging``
    is ``{"tagging": ""}``), ``multiValueQueryStringParameters`` every value; the same for headers."""
    event = api_event("DELETE", RESOURCE, {"bucket": bucket, "key": key}, headers=tenant.headers, content_type=None)
    event["queryStringParameters"] = {name: values[-1] for name, values in multi_value_query.items()} or None
    event["multiValueQueryStringParameters"] = multi_value_query or None
    for name, values in (headers or {}).items():
        event["headers"][name] = values[-1]
        event["multiValueHeaders"][name] = values
    return event


@pytest.mark.parametrize("query", [
    {"tagging": [""]},                                   # DeleteObjectTagging (boto3's delete_object_tagging)
    {"uploadId": ["2~abc"]},                             # AbortMultipartUpload
    {"acl": [""]}, {"retention": [""]}, {"legal-hold": [""]}, {"torrent": [""]}, {"annotation": [""]},
    {"tagging": [""], "versionId": ["null"]},
    {"x-id": ["DeleteObjectTagging"]}, {"x-id": [""]},
    {"versionid": ["null"]}, {"unknown": ["1"]},
])
def test_other_operations_and_unknown_parameters_are_not_implemented_and_delete_nothing(tenant, versioned, query):
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    tenant.put("doc.txt")
    for bucket in ("photos", "versioned"):
        response = invoke("delete_object", event_with_query(tenant, "doc.txt", query, bucket=bucket))
        assert_error(response, 501, "NotImplemented")
        assert response_header(response, "x-amz-id-2")
    assert tenant.keys() == ["doc.txt"]
    assert tenant.versions(versioned) == [("doc.txt", version, False)]


def test_another_operation_is_refused_before_credentials_are_read(tenant):
    tenant.put("doc.txt")
    event = event_with_query(tenant, "doc.txt", {"tagging": [""]})
    event["headers"], event["multiValueHeaders"] = {}, {}
    assert_error(invoke("delete_object", event), 501, "NotImplemented")
    assert tenant.keys() == ["doc.txt"]


def test_x_id_delete_object_that_sdks_add_is_delete_object(tenant, versioned):
    tenant.put("doc.txt")
    old = tenant.put("v.txt", "old", bucket=versioned)["VersionId"]
    new = tenant.put("v.txt", "new", bucket=versioned)["VersionId"]
    assert_no_content(invoke("delete_object", event_with_query(tenant, "doc.txt", {"x-id": ["DeleteObject"]})))
    assert tenant.keys() == []
    response = invoke("delete_object", event_with_query(tenant, "v.txt", {"x-id": ["DeleteObject"],
                                                                          "versionId": [old]}, bucket="versioned"))
    assert_no_content(response)
    assert tenant.versions(versioned) == [("v.txt", new, False)]


@pytest.mark.parametrize("query", [
    {"versionId": ["null", "null"]},
    {"versionId": ["null", "KC0WuaPTHv7At3olS.BPuH.weAJqMkKJ"]},
    {"x-id": ["DeleteObject", "DeleteObject"]},
])
def test_repeated_query_parameter_is_invalid_argument_and_deletes_nothing(tenant, query):
    tenant.put("doc.txt")
    assert_error(invoke("delete_object", event_with_query(tenant, "doc.txt", query)), 400, "InvalidArgument")
    assert tenant.keys() == ["doc.txt"]


@pytest.mark.parametrize("name", ["If-Match", "x-amz-expected-bucket-owner", "x-amz-bypass-governance-retention",
                                  "X-Api-Key"])
def test_repeated_decisive_header_is_invalid_argument_and_deletes_nothing(tenant, name):
    etag = tenant.put("doc.txt")["ETag"]
    values = {"If-Match": [etag, '"0"'], "x-amz-expected-bucket-owner": ["123456789012", "210987654321"],
              "x-amz-bypass-governance-retention": ["false", "true"], "X-Api-Key": [tenant.api_key, "erk_x_y"]}
    event = event_with_query(tenant, "doc.txt", {}, headers={name: values[name]})
    assert_error(invoke("delete_object", event), 400, "InvalidArgument")
    assert tenant.keys() == ["doc.txt"]


# --- a version id deletes that version or nothing, on every bucket -----------------------------------------------------
@pytest.mark.parametrize("version_id", ["abc", "KC0WuaPTHv7At3olS.BPuH.weAJqMkKJ", "0" * 32,
                                        "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"])
def test_unknown_version_id_on_an_unversioned_bucket_is_204_and_the_object_survives(tenant, version_id):
    # moto deletes the current object when an unversioned bucket gets a version id it does not know.
    tenant.put("doc.txt")
    response = delete(tenant, "doc.txt", version_id=version_id)
    assert_no_content(response)
    assert response_header(response, "x-amz-version-id") == version_id
    assert tenant.keys() == ["doc.txt"]


class HeadIgnoresTheVersionId:
    """A ``before-call`` hook answering every HEAD that names a version as SeaweedFS does on an unversioned bucket:
    200, describing the current object, with no ``x-amz-version-id``."""

    def __init__(self) -> None:
        self.answered: list[str] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        version_id = (params.get("query_string") or {}).get("versionId")
        if version_id is None:
            return None
        self.answered.append(version_id)
        parsed = {"ETag": '"9dd4e461268c8034f5c8564e155c67a6"', "ContentLength": 1,
                  "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}}}
        return AWSResponse("https://s3.amazonaws.com", 200, {}, None), parsed


@pytest.mark.parametrize("version_id", ["3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "KC0WuaPTHv7At3olS.BPuH.weAJqMkKJ"])
def test_a_head_that_ignores_the_version_id_does_not_make_an_unknown_id_delete(tenant, version_id):
    tenant.put("doc.txt")
    ignoring = HeadIgnoresTheVersionId()
    client = aws.s3_single_attempt()
    client.meta.events.register_first("before-call.s3.HeadObject", ignoring)
    try:
        response = delete(tenant, "doc.txt", version_id=version_id)
        after_unknown = tenant.keys()
        null_version = delete(tenant, "doc.txt", version_id="null")
    finally:
        client.meta.events.unregister("before-call.s3.HeadObject", ignoring)
    assert ignoring.answered == [version_id, "null"]
    assert_no_content(response)
    assert response_header(response, "x-amz-version-id") == version_id
    assert after_unknown == ["doc.txt"]
    # A 200 without x-amz-version-id does describe the null version: that one is deleted.
    assert_no_content(null_version)
    assert tenant.keys() == []


@pytest.mark.parametrize("version_id", ["../../x", "./x", "a/b.c", "a+b_c"])
def test_path_like_version_id_is_invalid_argument_and_the_object_survives(tenant, versioned, version_id):
    tenant.put("doc.txt")
    version = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    assert_error(delete(tenant, "doc.txt", version_id=version_id), 400, "InvalidArgument")
    assert_error(delete(tenant, "doc.txt", bucket="versioned", version_id=version_id), 400, "InvalidArgument")
    assert tenant.keys() == ["doc.txt"]
    assert tenant.versions(versioned) == [("doc.txt", version, False)]


def test_version_id_of_another_key_deletes_nothing_on_a_versioned_bucket(tenant, versioned):
    mine = tenant.put("doc.txt", bucket=versioned)["VersionId"]
    theirs = tenant.put("other.txt", bucket=versioned)["VersionId"]
    assert_no_content(delete(tenant, "doc.txt", bucket="versioned", version_id=theirs))
    assert tenant.versions(versioned) == sorted([("doc.txt", mine, False), ("other.txt", theirs, False)])


def test_version_id_of_another_key_deletes_nothing_on_a_suspended_bucket(tenant):
    bucket = tenant.add_bucket("suspended", versioned=True)
    mine = tenant.put("doc.txt", bucket=bucket)["VersionId"]
    theirs = tenant.put("doc.txt-2", bucket=bucket)["VersionId"]
    tenant.s3.put_bucket_versioning(Bucket=bucket.s3_bucket, VersioningConfiguration={"Status": "Suspended"})
    assert_no_content(delete(tenant, "doc.txt", bucket="suspended", version_id=theirs))
    assert_no_content(delete(tenant, "doc.txt", bucket="suspended", version_id="abc"))
    assert tenant.versions(bucket) == sorted([("doc.txt", mine, False), ("doc.txt-2", theirs, False)])


def test_own_version_id_on_a_suspended_bucket_deletes_that_version_when_it_is_the_only_one(tenant):
    bucket = tenant.add_bucket("suspended", versioned=True)
    only = tenant.put("doc.txt", bucket=bucket)["VersionId"]
    kept = tenant.put("kept.txt", bucket=bucket)["VersionId"]
    tenant.s3.put_bucket_versioning(Bucket=bucket.s3_bucket, VersioningConfiguration={"Status": "Suspended"})
    response = delete(tenant, "doc.txt", bucket="suspended", version_id=only)
    assert_no_content(response)
    assert response_header(response, "x-amz-version-id") == only
    assert tenant.versions(bucket) == [("kept.txt", kept, False)]


def test_one_of_several_versions_on_a_suspended_bucket_is_refused_where_the_backend_drops_them_all(tenant):
    # moto (whose HEAD refuses any versionId once versioning is Suspended) deletes every version of the key on a
    # versionId DELETE there; S3 would delete the one named. Eraser refuses rather than delete what was not asked.
    bucket = tenant.add_bucket("suspended", versioned=True)
    old = tenant.put("doc.txt", "old", bucket=bucket)["VersionId"]
    new = tenant.put("doc.txt", "new", bucket=bucket)["VersionId"]
    tenant.s3.put_bucket_versioning(Bucket=bucket.s3_bucket, VersioningConfiguration={"Status": "Suspended"})
    assert_error(delete(tenant, "doc.txt", bucket="suspended", version_id=old), 409, "InvalidBucketState")
    assert tenant.versions(bucket) == sorted([("doc.txt", old, False), ("doc.txt", new, False)])


def test_version_id_null_on_an_unversioned_bucket_deletes_only_that_key(tenant):
    tenant.put("doc.txt")
    tenant.put("doc.txt/child")
    assert_no_content(delete(tenant, "doc.txt", version_id="null"))
    assert_no_content(delete(tenant, "absent.txt", version_id="null"))
    assert tenant.keys() == ["doc.txt/child"]


# --- the 204 -----------------------------------------------------------------------------------------------------------
def test_no_content_carries_x_amz_id_2_and_no_content_type(tenant):
    tenant.put("doc.txt")
    response = delete(tenant, "doc.txt")
    assert_no_content(response)
    assert response_header(response, "x-amz-id-2")
    assert response_header(response, "Content-Type") is None
