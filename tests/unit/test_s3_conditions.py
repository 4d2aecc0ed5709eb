"""DeleteObject's pieces below the handler: header parsing (api), condition and Object Lock rules, the HEAD-to-DELETE
race, and how S3's failures become the domain's errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from eraser import aws, errors
from eraser.api.s3request import delete_object_request, parse_http_date, parse_size
from eraser.auth import Principal, Scope, authenticate
from eraser.operations.objects import delete_object
from eraser.storage.conditions import DeleteConditions, StoredObject, etag_matches, same_second
from eraser.storage.objects import DeleteObjectRequest, ensure_not_locked
from tests.support import Tenant

NOON = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


# --- parsing -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["Fri, 01 Mar 2024 12:00:00 GMT", "2024-03-01T12:00:00.000Z", "2024-03-01T12:00:00Z",
                                  "2024-03-01T12:00:00+00:00", "2024-03-01T13:00:00+01:00", "2024-03-01T12:00:00"])
def test_last_modified_time_accepts_http_and_iso_dates_naive_meaning_utc(text):
    assert parse_http_date(text) == NOON


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01T00:00:00Z", "12:00", "Fri, 32 Mar 2024 12:00:00 GMT"])
def test_last_modified_time_that_is_not_a_date_is_invalid_argument(text):
    with pytest.raises(errors.InvalidArgument):
        parse_http_date(text)


@pytest.mark.parametrize(("text", "size"), [("0", 0), ("5", 5), ("5368709120", 5_368_709_120)])
def test_size_is_a_non_negative_integer(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "-1", "+1", "1.0", "1e3", " 1", "one", "١"])
def test_size_that_is_not_plain_digits_is_invalid_argument(text):
    with pytest.raises(errors.InvalidArgument):
        parse_size(text)


@pytest.mark.parametrize(("expected", "matches"), [('"abc"', True), ("abc", True), (" abc ", True), ("*", True),
                                                   ('"*"', True), ('"abd"', False), ('"ABC"', False)])
def test_etag_matches_quoted_or_unquoted_or_any(expected, matches):
    assert etag_matches(expected, '"abc"') is matches


def test_last_modified_is_compared_to_the_second():
    assert same_second(NOON, NOON + timedelta(milliseconds=999))
    assert not same_second(NOON, NOON + timedelta(seconds=1))
    assert not same_second(NOON, None)


# --- condition rules ---------------------------------------------------------------------------------------------------
STORED = StoredObject(exists=True, etag='"abc"', size=3, last_modified=NOON)


def test_conditions_that_hold_pass_and_each_failure_is_precondition_failed():
    DeleteConditions(if_match="abc", size=3, last_modified=NOON).check("k", STORED)
    for failing in (DeleteConditions(if_match="abd"), DeleteConditions(size=4),
                    DeleteConditions(last_modified=NOON - timedelta(seconds=1))):
        with pytest.raises(errors.PreconditionFailed):
            failing.check("k", STORED)


@pytest.mark.parametrize("stored", [StoredObject(exists=False), StoredObject(exists=True, is_delete_marker=True)])
def test_conditions_on_nothing_or_a_marker_are_no_such_key(stored):
    with pytest.raises(errors.NoSuchKey):
        DeleteConditions(if_match="*").check("k", stored)


# --- Object Lock rules -------------------------------------------------------------------------------------------------
def test_object_lock_rules():
    later = NOON + timedelta(days=1)
    governance = StoredObject(exists=True, lock_mode="GOVERNANCE", lock_retain_until=later)
    compliance = StoredObject(exists=True, lock_mode="COMPLIANCE", lock_retain_until=later)
    held = StoredObject(exists=True, legal_hold=True)
    for version, bypass in ((governance, False), (compliance, False), (compliance, True), (held, True)):
        with pytest.raises(errors.AccessDenied):
            ensure_not_locked(version, bypass_governance=bypass, now=NOON)
    ensure_not_locked(governance, bypass_governance=True, now=NOON)
    # Retention that has run out no longer protects the version.
    ensure_not_locked(compliance, bypass_governance=False, now=later + timedelta(seconds=1))
    ensure_not_locked(StoredObject(exists=True), bypass_governance=False, now=NOON)


# --- the domain call ---------------------------------------------------------------------------------------------------
def principal_of(tenant: Tenant) -> Principal:
    return authenticate(tenant.headers, Scope.OBJECTS_DELETE)


def request(key: str = "doc.txt", bucket: str = "photos", **headers: str) -> DeleteObjectRequest:
    return delete_object_request({"bucket": bucket, "key": key}, {},
                                 {name.lower(): value for name, value in headers.items()})


class NoS3:
    """An S3 client that must not be used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"S3 was called ({name}) although the request had to be refused first")


def test_wrong_expected_owner_is_refused_before_s3_is_touched(tenant):
    with pytest.raises(errors.AccessDenied):
        delete_object(principal_of(tenant), request(**{"x-amz-expected-bucket-owner": "210987654321"}),
                      s3_client=NoS3())


def test_unknown_bucket_is_refused_before_s3_is_touched(tenant):
    with pytest.raises(errors.BucketNotFound):
        delete_object(principal_of(tenant), request(bucket="nope"), s3_client=NoS3())


class OverwritesAfterHead:
    """A real (moto) client that lets another writer replace the object right after each HEAD."""

    def __init__(self, client: Any, body: bytes) -> None:
        self._client = client
        self._body = body

    def head_object(self, **arguments: Any) -> Any:
        response = self._client.head_object(**arguments)
        self._client.put_object(Bucket=arguments["Bucket"], Key=arguments["Key"], Body=self._body)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize("condition", [{"x-amz-if-match-size": "3"}, {"If-Match": "*"}])
def test_object_replaced_between_head_and_delete_is_not_deleted(tenant, condition):
    tenant.put("doc.txt", b"abc")
    racing = OverwritesAfterHead(aws.s3(), b"xyz")  # same size, other content: only the pinned ETag catches it
    with pytest.raises(errors.PreconditionFailed):
        delete_object(principal_of(tenant), request(**condition), s3_client=racing)
    assert tenant.s3.get_object(Bucket=tenant.bucket.s3_bucket, Key="doc.txt")["Body"].read() == b"xyz"


@pytest.mark.parametrize(("code", "status", "error"), [
    ("ConditionalRequestConflict", 409, errors.Conflict),
    ("NoSuchBucket", 404, errors.BucketNotFound),
    ("AccessDenied", 403, errors.AccessDenied),
    ("InvalidArgument", 400, errors.InvalidArgument),
    ("PreconditionFailed", 412, errors.PreconditionFailed),
])
def test_s3_failures_of_the_delete_become_domain_errors(tenant, code, status, error):
    client = aws.s3()
    with Stubber(client) as stubber:
        stubber.add_client_error("delete_object", service_error_code=code, http_status_code=status)
        with pytest.raises(error):
            delete_object(principal_of(tenant), request(), s3_client=client)


def test_unexpected_s3_failure_is_not_disguised(tenant):
    client = aws.s3()
    with Stubber(client) as stubber:
        stubber.add_client_error("delete_object", service_error_code="NotImplemented", http_status_code=501)
        with pytest.raises(Exception) as raised:
            delete_object(principal_of(tenant), request(), s3_client=client)
    assert not isinstance(raised.value, errors.EraserError)


def test_version_s3_will_not_head_is_listed_and_deleted_when_the_listing_shows_it(tenant):
    client = aws.s3()
    listed = {"Versions": [{"Key": "doc.txt", "VersionId": "null", "IsLatest": True}], "IsTruncated": False}
    with Stubber(client) as stubber:
        stubber.add_client_error("head_object", service_error_code="400", http_status_code=400)
        stubber.add_response("list_object_versions", listed)
        stubber.add_response("delete_object", {"VersionId": "null"})
        result = delete_object(principal_of(tenant), delete_object_request(
            {"bucket": "photos", "key": "doc.txt"}, {"versionId": "null"}, {}), s3_client=client)
        stubber.assert_no_pending_responses()
    assert result.version_id == "null"


def test_version_s3_will_not_head_and_the_listing_does_not_show_is_never_sent_to_delete(tenant):
    client = aws.s3()
    listed = {"Versions": [{"Key": "doc.txt", "VersionId": "null", "IsLatest": True},
                           {"Key": "doc.txt2", "VersionId": "abc", "IsLatest": True}], "IsTruncated": True,
              "NextKeyMarker": "doc.txt2", "NextVersionIdMarker": "abc"}
    with Stubber(client) as stubber:
        stubber.add_client_error("head_object", service_error_code="400", http_status_code=400)
        stubber.add_response("list_object_versions", listed)
        result = delete_object(principal_of(tenant), delete_object_request(
            {"bucket": "photos", "key": "doc.txt"}, {"versionId": "abc"}, {}), s3_client=client)
        stubber.assert_no_pending_responses()
    assert result.version_id == "abc"
