"""Bulk delete (DELETE /v1/storage/objects, Seahorse): keys and folders, batches of at most 1000, per-key errors and
their retries, the synchronous limit, and every bad input refused before anything is deleted.

moto never reports per-key errors in a DeleteObjects answer and accepts more than 1000 keys per call, so the S3
client is wrapped (``SpyS3``): it records every call and injects the per-key errors S3 would send.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from eraser import aws, config
from eraser.operations.objects import BulkDeleteRequest, plan_deletion
from eraser.storage import deletion, retries
from eraser.storage.deletion import AttemptOutcome, KeyFailure, RetryPolicy
from eraser.storage.keys import fits_in_xml, folder_prefix, validate_object_key
from eraser.storage.retries import Deadline
from eraser.tasks import get_task
from eraser.tenancy import BucketConfiguration, OrganizationStatus, TenancyRepository
from tests.openapi_check import assert_matches_openapi
from tests.s3_faults import CountdownContext, throttled_s3
from tests.support import LambdaContext, api_event, invoke, load_event, response_header

ROUTE = "/v1/storage/objects"

S3_MESSAGES = {
    "AccessDenied": "Access Denied",
    "InternalError": "We encountered an internal error. Please try again.",
    "SlowDown": "Please reduce your request rate.",
}


class SpyS3:
    """The moto S3 client, recording DeleteObjects/DeleteObject calls and answering chosen keys with S3's per-key
    errors (each queued code is used by one call; the key is really deleted once its queue is empty)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.batches: list[list[str]] = []
        self.single_deletes: list[str] = []
        self.key_errors: dict[str, list[str]] = {}
        self.call_error: str | None = None
        # (operation, ExpectedBucketOwner) of every call: moto does not check the owner, real S3 does.
        self.owners: list[tuple[str, str | None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
        self.owners.append(("list_objects_v2", kwargs.get("ExpectedBucketOwner")))
        return self._client.list_objects_v2(**kwargs)

    def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
        keys = [item["Key"] for item in kwargs["Delete"]["Objects"]]
        self.batches.append(keys)
        self.owners.append(("delete_objects", kwargs.get("ExpectedBucketOwner")))
        if self.call_error:
            raise ClientError({"Error": {"Code": self.call_error, "Message": S3_MESSAGES[self.call_error]}},
                              "DeleteObjects")
        failing = {key: self.key_errors[key].pop(0) for key in keys if self.key_errors.get(key)}
        passing = [{"Key": key} for key in keys if key not in failing]
        answer = self._client.delete_objects(**{**kwargs, "Delete": {**kwargs["Delete"], "Objects": passing}}
                                             ) if passing else {}
        injected = [{"Key": key, "Code": code, "Message": S3_MESSAGES[code]} for key, code in failing.items()]
        return {"Deleted": answer.get("Deleted", []), "Errors": answer.get("Errors", []) + injected}

    def delete_object(self, **kwargs: Any) -> dict[str, Any]:
        self.single_deletes.append(kwargs["Key"])
        self.owners.append(("delete_object", kwargs.get("ExpectedBucketOwner")))
        return self._client.delete_object(**kwargs)

    @property
    def keys_sent(self) -> list[str]:
        return [key for batch in self.batches for key in batch]


@pytest.fixture
def s3_spy(stack) -> Iterator[SpyS3]:
    spy = SpyS3(stack.s3)
    # Bulk delete calls S3 through the single-attempt client and retries within the invocation's time itself.
    original = aws.s3_single_attempt
    aws.s3_single_attempt = lambda: spy  # type: ignore[assignment]
    try:
        yield spy
    finally:
        aws.s3_single_attempt = original  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def pauses(monkeypatch) -> list[float]:
    """Retries pause through this list instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(deletion, "PER_KEY_RETRY", RetryPolicy(sleep=recorded.append))
    return recorded


@pytest.fixture
def sync_limit(stack) -> Iterator[None]:
    """The synchronous limit lowered to 5 objects."""
    os.environ["SYNC_DELETE_LIMIT"] = "5"
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def bulk_delete_call(tenant, body: Any, *, bucket: str | None = "photos", headers: dict[str, str] | None = None,
                     query: dict[str, str] | None = None, content_type: str | None = "application/json",
                     context: LambdaContext | None = None) -> tuple[int, dict[str, Any]]:
    """Invoke the function and check the answer against the OpenAPI document; returns (status, body)."""
    parameters = dict(query) if query is not None else ({"bucket": bucket} if bucket is not None else {})
    event = api_event("DELETE", ROUTE, query=parameters, body=body, content_type=content_type,
                      headers=tenant.headers if headers is None else headers)
    response = invoke("bulk_delete", event, context)
    document = assert_matches_openapi(response, "DELETE", ROUTE)
    return response["statusCode"], document


def error_code(document: dict[str, Any]) -> int:
    return int(document["exception"]["error_code"])


# --- what gets deleted -------------------------------------------------------------------------------------------------
def test_page_example_deletes_keys_and_folder_and_reports_the_empty_path(tenant, s3_spy):
    for key in ("my-file.pdf", "my-file.doc", "doc/my-file-2.doc", "keep.txt"):
        tenant.put(key)

    status, document = bulk_delete_call(tenant, {"object_keys": ["my-file.pdf", "my-file.doc"],
                                                 "path": ["pdf/", "doc/"]})

    assert status == 200
    assert document == {"code": 200, "success": True, "exception": None, "data": {
        "deleted_object_count": 3,
        "deleted_objects": ["my-file.pdf", "my-file.doc", "doc/my-file-2.doc"],
        "errors": [{"key": "pdf/", "error_code": "404", "error_message": "Objects not exist in path",
                    "outcome": "already_absent"}]}}
    assert tenant.keys() == ["keep.txt"]


def test_path_is_a_folder_never_a_sibling_with_the_same_prefix(tenant, s3_spy):
    for key in ("pdf/a.pdf", "pdf/sub/b.pdf", "pdf-old/c.pdf", "pdf", "pdfs.txt"):
        tenant.put(key)

    status, document = bulk_delete_call(tenant, {"object_keys": [], "path": ["pdf"]})

    assert status == 200
    assert document["data"]["deleted_objects"] == ["pdf/a.pdf", "pdf/sub/b.pdf"]
    assert tenant.keys() == ["pdf", "pdf-old/c.pdf", "pdfs.txt"]


def test_duplicates_across_keys_and_paths_are_deleted_once_and_reported_once(tenant, s3_spy):
    for key in ("a.txt", "dir/x", "dir/y"):
        tenant.put(key)

    status, document = bulk_delete_call(tenant, {"object_keys": ["a.txt", "dir/x", "a.txt"],
                                                 "path": ["dir", "dir/"]})

    assert status == 200
    assert document["data"]["deleted_objects"] == ["a.txt", "dir/x", "dir/y"]
    assert document["data"]["deleted_object_count"] == 3
    assert document["data"]["errors"] == []
    assert sorted(s3_spy.keys_sent) == ["a.txt", "dir/x", "dir/y"]
    assert tenant.keys() == []


def test_missing_key_counts_as_deleted_as_s3_reports_it(tenant, s3_spy):
    tenant.put("present")

    status, document = bulk_delete_call(tenant, {"object_keys": ["present", "never-existed"], "path": []})

    assert status == 200
    assert document["data"]["deleted_objects"] == ["present", "never-existed"]
    assert document["data"]["errors"] == []
    assert tenant.keys() == []


def test_unicode_keys_and_paths(tenant, s3_spy):
    keys = ["한글/보고서.pdf", "한글/사진 🎉.jpg", "café/menu.txt", "ключ"]
    for key in keys:
        tenant.put(key)
    tenant.put("한글-old/keep.pdf")

    status, document = bulk_delete_call(tenant, {"object_keys": ["café/menu.txt", "ключ"], "path": ["한글"]})

    assert status == 200
    assert sorted(document["data"]["deleted_objects"]) == sorted(keys)
    assert tenant.keys() == ["한글-old/keep.pdf"]


def test_key_of_exactly_1024_utf8_bytes_is_deleted(tenant, s3_spy):
    key = "é" * 512
    tenant.put(key)

    status, document = bulk_delete_call(tenant, {"object_keys": [key], "path": []})

    assert status == 200
    assert document["data"]["deleted_objects"] == [key]
    assert tenant.keys() == []


def test_keys_xml_cannot_carry_are_deleted_one_by_one(tenant, s3_spy):
    awkward = ["bell\x07.txt", "carriage\rreturn.txt"]
    for key in [*awkward, "plain.txt"]:
        tenant.put(key)

    status, document = bulk_delete_call(tenant, {"object_keys": [*awkward, "plain.txt"], "path": []})

    assert status == 200
    assert document["data"]["deleted_objects"] == [*awkward, "plain.txt"]
    assert s3_spy.single_deletes == awkward
    assert s3_spy.keys_sent == ["plain.txt"]
    assert tenant.keys() == []


def test_every_s3_call_names_the_organizations_account_as_bucket_owner(tenant, s3_spy):
    for key in ("a", "dir/b", "odd\x01key"):
        tenant.put(key)

    status, _ = bulk_delete_call(tenant, {"object_keys": ["a", "odd\x01key"], "path": ["dir"]})

    assert status == 200
    assert {operation for operation, _ in s3_spy.owners} == {"list_objects_v2", "delete_objects", "delete_object"}
    assert {owner for _, owner in s3_spy.owners} == {tenant.organization.account_id}


def test_bucket_may_be_named_by_its_id(tenant, s3_spy):
    tenant.put("a")

    status, _ = bulk_delete_call(tenant, {"object_keys": ["a"], "path": []}, bucket=tenant.bucket.id)

    assert status == 200
    assert tenant.keys() == []


def test_more_than_1000_objects_are_deleted_in_calls_of_at_most_1000_keys(tenant, s3_spy):
    keys = [f"bulk/{number:05d}" for number in range(2100)]
    for key in keys:
        tenant.put(key)
    tenant.put("other/keep")

    status, document = bulk_delete_call(tenant, {"object_keys": ["loose-key"], "path": ["bulk"]})

    assert status == 200
    assert document["data"]["deleted_object_count"] == 2101
    assert [len(batch) for batch in s3_spy.batches] == [1000, 1000, 101]
    assert tenant.keys() == ["other/keep"]


def test_1000_object_keys_are_accepted_in_one_call(tenant, s3_spy):
    keys = [f"k{number}" for number in range(1000)]

    status, document = bulk_delete_call(tenant, {"object_keys": keys, "path": []})

    assert status == 200
    assert document["data"]["deleted_object_count"] == 1000
    assert [len(batch) for batch in s3_spy.batches] == [1000]


@pytest.mark.parametrize("configuration", [
    pytest.param({"versioned": True}, id="versioned"),
    pytest.param({"configuration": BucketConfiguration(trash_enabled=True)}, id="trash-enabled"),
])
def test_versioned_bucket_gets_delete_markers_and_keeps_the_versions(tenant, s3_spy, configuration):
    bucket = tenant.add_bucket("archive", **configuration)
    for key in ("a.txt", "docs/b.txt", "docs/c.txt"):
        tenant.put(key, bucket=bucket)

    status, document = bulk_delete_call(tenant, {"object_keys": ["a.txt"], "path": ["docs"]}, bucket="archive")

    assert status == 200
    assert document["data"]["deleted_objects"] == ["a.txt", "docs/b.txt", "docs/c.txt"]
    assert tenant.keys(bucket) == []
    versions = tenant.versions(bucket)
    assert sorted(key for key, _, marker in versions if marker) == ["a.txt", "docs/b.txt", "docs/c.txt"]
    assert sorted(key for key, _, marker in versions if not marker) == ["a.txt", "docs/b.txt", "docs/c.txt"]


def test_path_whose_objects_are_all_behind_delete_markers_matches_nothing(tenant, s3_spy):
    bucket = tenant.add_bucket("archive", versioned=True)
    tenant.put("old/a.txt", bucket=bucket)
    tenant.s3.delete_object(Bucket=bucket.s3_bucket, Key="old/a.txt")

    status, document = bulk_delete_call(tenant, {"object_keys": [], "path": ["old/"]}, bucket="archive")

    assert status == 200
    assert document["data"]["deleted_objects"] == []
    assert document["data"]["errors"] == [{"key": "old/", "error_code": "404",
                                           "error_message": "Objects not exist in path",
                                           "outcome": "already_absent"}]
    assert s3_spy.batches == []


# --- per-key errors ----------------------------------------------------------------------------------------------------
def test_key_s3_refuses_is_reported_with_its_code_and_not_counted(tenant, s3_spy, pauses):
    for key in ("a", "locked", "c"):
        tenant.put(key)
    s3_spy.key_errors["locked"] = ["AccessDenied"]

    status, document = bulk_delete_call(tenant, {"object_keys": ["a", "locked", "c"], "path": []})

    assert status == 200
    assert document["data"]["deleted_objects"] == ["a", "c"]
    assert document["data"]["deleted_object_count"] == 2
    assert document["data"]["errors"] == [{"key": "locked", "error_code": "AccessDenied",
                                           "error_message": "Access Denied", "outcome": "access_denied"}]
    assert tenant.keys() == ["locked"]
    assert len(s3_spy.batches) == 1, "AccessDenied does not change by retrying"
    assert pauses == []


def test_throttled_keys_are_retried_with_backoff_until_deleted(tenant, s3_spy, pauses):
    for key in ("a", "hot", "warm"):
        tenant.put(key)
    s3_spy.key_errors.update({"hot": ["SlowDown", "SlowDown"], "warm": ["InternalError"]})

    status, document = bulk_delete_call(tenant, {"object_keys": ["a", "hot", "warm"], "path": []})

    assert status == 200
    assert document["data"]["deleted_objects"] == ["a", "hot", "warm"]
    assert document["data"]["errors"] == []
    assert s3_spy.batches == [["a", "hot", "warm"], ["hot", "warm"], ["hot"]]
    assert len(pauses) == 2
    assert tenant.keys() == []


def test_keys_still_throttled_after_the_last_attempt_are_reported(tenant, s3_spy, pauses):
    tenant.put("a")
    tenant.put("hot")
    s3_spy.key_errors["hot"] = ["SlowDown"] * 10

    status, document = bulk_delete_call(tenant, {"object_keys": ["a", "hot"], "path": []})

    assert status == 200
    assert document["data"]["deleted_objects"] == ["a"]
    assert document["data"]["errors"] == [{"key": "hot", "error_code": "SlowDown",
                                           "error_message": "Please reduce your request rate.",
                                           "outcome": "throttled"}]
    assert s3_spy.keys_sent.count("hot") == RetryPolicy().attempts
    assert tenant.keys() == ["hot"]


def test_failed_call_reports_every_key_of_its_batch(tenant, s3_spy):
    for key in ("a", "b"):
        tenant.put(key)
    s3_spy.call_error = "AccessDenied"

    status, document = bulk_delete_call(tenant, {"object_keys": ["a", "b"], "path": []})

    assert status == 200
    assert document["data"]["deleted_objects"] == []
    assert [error["key"] for error in document["data"]["errors"]] == ["a", "b"]
    assert {error["error_code"] for error in document["data"]["errors"]} == {"AccessDenied"}
    assert tenant.keys() == ["a", "b"]


# --- the synchronous limit ---------------------------------------------------------------------------------------------
def test_request_over_the_synchronous_limit_becomes_a_task_and_deletes_nothing_synchronously(tenant, s3_spy,
                                                                                               sync_limit):
    for number in range(6):
        tenant.put(f"big/{number}")

    status, document = bulk_delete_call(tenant, {"object_keys": [], "path": ["big"]})

    assert status == 202
    assert document["data"]["task"]["status"] == "pending"
    assert document["data"]["deleted_object_count"] == 0
    assert s3_spy.batches == []
    assert len(tenant.keys()) == 6  # the task's workers delete them (tests/unit/test_tasks_bulk.py)


def test_keys_count_towards_the_synchronous_limit(tenant, s3_spy, sync_limit):
    tenant.put("a")

    status, document = bulk_delete_call(tenant, {"object_keys": [f"k{n}" for n in range(5)] + ["a"], "path": []})

    assert status == 202
    assert document["data"]["task"]["href"] == f"/v1/tasks/{document['data']['task']['id']}"
    assert s3_spy.batches == []
    assert tenant.keys() == ["a"]


def test_requests_over_the_limit_are_rate_limited_per_credential_and_refused_ones_start_no_task(
        tenant, s3_spy, sync_limit, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_BULK_DELETE_TASK", "2")
    config.settings.cache_clear()
    for number in range(6):
        tenant.put(f"big/{number}")
    statuses = [bulk_delete_call(tenant, {"object_keys": [], "path": ["big"]}) for _ in range(3)]

    assert [status for status, _ in statuses] == [202, 202, 429]
    assert statuses[2][1]["exception"]["error_code"] == 429001
    tasks = aws.table(config.settings().tasks_table).scan(
        FilterExpression="sk = :task", ExpressionAttributeValues={":task": "TASK"})["Items"]
    assert {task["pk"] for task in tasks} == {f"TASK#{document['data']['task']['id']}"
                                               for _, document in statuses[:2]}
    assert s3_spy.batches == [] and len(tenant.keys()) == 6
    # Synchronous deletes create no task and are not counted against the task limit.
    assert bulk_delete_call(tenant, {"object_keys": ["big/0"], "path": []})[0] == 200


def test_request_at_the_synchronous_limit_is_deleted(tenant, s3_spy, sync_limit):
    for number in range(4):
        tenant.put(f"big/{number}")
    tenant.put("a")

    # Five distinct objects: "a" is named twice and "big/0" both as a key and under the path.
    status, document = bulk_delete_call(tenant, {"object_keys": ["a", "big/0", "a"], "path": ["big"]})

    assert status == 200
    assert document["data"]["deleted_object_count"] == 5
    assert tenant.keys() == []


# --- bad input: 4xx, never 5xx, nothing deleted ------------------------------------------------------------------------
BAD_BODIES = {
    "malformed JSON": '{"object_keys": ["a"], "path": [}',
    "empty body": "",
    "JSON array": "[]",
    "JSON null": "null",
    "missing path": {"object_keys": ["a"]},
    "missing object_keys": {"path": ["pdf"]},
    "extra field": {"object_keys": ["a"], "path": [], "recursive": True},
    "object_keys is a string": {"object_keys": "a", "path": []},
    "path is a string": {"object_keys": [], "path": "pdf"},
    "a number among the keys": {"object_keys": ["a", 7], "path": []},
    "null among the keys": {"object_keys": ["a", None], "path": []},
    "a number among the paths": {"object_keys": [], "path": [3]},
    "both lists empty": {"object_keys": [], "path": []},
    "empty key": {"object_keys": [""], "path": []},
    "key of 1025 bytes": {"object_keys": ["é" * 512 + "x"], "path": []},
    "lone surrogate in a key": '{"object_keys": ["a\\ud800b"], "path": []}',
    "1001 keys": {"object_keys": [f"k{n}" for n in range(1001)], "path": []},
    "101 paths": {"object_keys": [], "path": [f"p{n}" for n in range(101)]},
    "empty path": {"object_keys": ["a"], "path": [""]},
    "root path": {"object_keys": ["a"], "path": ["/"]},
    "dot path": {"object_keys": ["a"], "path": ["."]},
    "dot-dot path": {"object_keys": ["a"], "path": [".."]},
    "dot-dot segment": {"object_keys": ["a"], "path": ["pdf/../"]},
    "dot segment": {"object_keys": ["a"], "path": ["./pdf"]},
    "leading slash": {"object_keys": ["a"], "path": ["/pdf"]},
    "double slash": {"object_keys": ["a"], "path": ["pdf//"]},
    "path of 1024 bytes": {"object_keys": [], "path": ["p" * 1024]},
}


@pytest.fixture
def seeded(tenant) -> list[str]:
    keys = ["a", "k1", "pdf/x.pdf", "p1/y"]
    for key in keys:
        tenant.put(key)
    return tenant.keys()


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_bad_body_is_refused_and_deletes_nothing(tenant, s3_spy, seeded, body):
    status, document = bulk_delete_call(tenant, body)

    assert status == 400
    assert error_code(document) == 400001
    assert document["exception"]["error_message"].startswith("Bad Request: ")
    assert s3_spy.batches == [] and s3_spy.single_deletes == []
    assert tenant.keys() == seeded


def test_a_bad_path_refuses_the_whole_request_even_with_good_keys(tenant, s3_spy, seeded):
    status, document = bulk_delete_call(tenant, {"object_keys": ["a", "k1"], "path": ["pdf", "/"]})

    assert (status, error_code(document)) == (400, 400001)
    assert "path.1" in document["exception"]["error_message"]
    assert tenant.keys() == seeded


@pytest.mark.parametrize("buckets", [["photos", "photos"], ["photos", "other"]])
def test_a_repeated_bucket_parameter_is_refused_and_deletes_nothing(tenant, s3_spy, seeded, buckets):
    # API Gateway's queryStringParameters keeps the last value only; the repeat shows in the multi-value map.
    event = api_event("DELETE", ROUTE, query={"bucket": buckets[-1]}, body={"object_keys": ["a"], "path": ["pdf"]},
                      headers=tenant.headers)
    event["multiValueQueryStringParameters"] = {"bucket": buckets}
    response = invoke("bulk_delete", event)
    document = assert_matches_openapi(response, "DELETE", ROUTE)

    assert (response["statusCode"], error_code(document)) == (400, 400001)
    assert "'bucket' is given 2 times" in document["exception"]["error_message"]
    assert s3_spy.batches == [] and s3_spy.single_deletes == []
    assert tenant.keys() == seeded


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_body_that_is_not_declared_json_is_refused(tenant, s3_spy, seeded, content_type):
    status, document = bulk_delete_call(tenant, json.dumps({"object_keys": ["a"], "path": []}),
                                        content_type=content_type)

    assert (status, error_code(document)) == (400, 400001)
    assert tenant.keys() == seeded


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param({}, 400, id="no bucket"),
    pytest.param({"bucket": ""}, 400, id="empty bucket"),
    pytest.param({"bucket": "photos", "recursive": "true"}, 400, id="unknown parameter"),
    pytest.param({"bucket": "nope"}, 404, id="unknown bucket"),
])
def test_bucket_query_problems(tenant, s3_spy, seeded, query, expected):
    status, document = bulk_delete_call(tenant, {"object_keys": ["a"], "path": []}, query=query)

    assert status == expected
    assert error_code(document) == expected * 1000 + 1
    assert tenant.keys() == seeded


def test_another_organizations_bucket_is_not_found_and_untouched(tenant, other_tenant, s3_spy):
    other_tenant.put("secret.txt")

    for bucket in ("photos", other_tenant.bucket.id):
        status, document = bulk_delete_call(tenant, {"object_keys": ["secret.txt"], "path": []}, bucket=bucket)
        if bucket == "photos":
            # Same name in the caller's own organization: the caller's bucket, never the other one.
            assert status == 200
        else:
            assert (status, error_code(document)) == (404, 404001)
    assert other_tenant.keys() == ["secret.txt"]


@pytest.mark.parametrize("body", [{"object_keys": [], "path": ["pdf"]}, {"object_keys": ["a"], "path": []}],
                         ids=["by path", "by key"])
def test_registered_bucket_missing_in_s3_is_not_found(tenant, s3_spy, body):
    tenant.s3.delete_bucket(Bucket=tenant.bucket.s3_bucket)

    status, document = bulk_delete_call(tenant, body)

    assert (status, error_code(document)) == (404, 404001)
    assert tenant.bucket.s3_bucket not in document["exception"]["error_message"]


# --- credentials ---------------------------------------------------------------------------------------------------
def test_each_credential_failure_answers_in_seahorse_shape_and_deletes_nothing(tenant, s3_spy, seeded):
    body = {"object_keys": ["a"], "path": ["pdf"]}
    cases = [
        ({}, 401, 401001),
        ({"X-Api-Key": tenant.api_key[:-3] + "zzz"}, 401, 401002),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, 401002),
        ({"X-Api-Key": tenant.key_with_scopes("tasks:read", "buckets:purge")}, 403, 403001),
    ]
    for headers, status, code in cases:
        answered, document = bulk_delete_call(tenant, body, headers=headers)
        assert (answered, error_code(document)) == (status, code), headers
    assert tenant.keys() == seeded


def test_suspended_organization_is_refused(tenant, s3_spy, seeded):
    TenancyRepository().set_organization_status(tenant.organization.id, OrganizationStatus.SUSPENDED)

    status, document = bulk_delete_call(tenant, {"object_keys": ["a"], "path": []})

    assert (status, error_code(document)) == (403, 403001)
    assert tenant.keys() == seeded


def test_credentials_are_checked_before_the_body(tenant, s3_spy):
    status, document = bulk_delete_call(tenant, "not json", headers={})

    assert (status, error_code(document)) == (401, 401001)


def test_key_with_only_the_delete_scope_is_enough(tenant, s3_spy):
    tenant.put("a")
    headers = {"api-key": tenant.key_with_scopes("objects:delete")}

    status, _ = bulk_delete_call(tenant, {"object_keys": ["a"], "path": []}, headers=headers)

    assert status == 200
    assert tenant.keys() == []


def test_sample_event_reaches_the_handler(tenant, s3_spy):
    demo = tenant.add_bucket("demo")  # the event targets the demo bucket `make run` seeds
    for key in ("hello.txt", "images/cat.jpg", "reports/2024/q1.csv", "reports-old/keep.csv"):
        tenant.put(key, bucket=demo)
    event = load_event("bulk_delete.json")
    event["headers"]["X-Api-Key"] = event["multiValueHeaders"]["X-Api-Key"][0] = tenant.api_key

    response = invoke("bulk_delete", event)

    document = assert_matches_openapi(response, "DELETE", ROUTE)
    assert response["statusCode"] == 200
    assert document["data"]["deleted_object_count"] == 3
    assert tenant.keys(demo) == ["reports-old/keep.csv"]


# --- the domain, below the handler -------------------------------------------------------------------------------------
class FakeStore:
    """An ObjectStore in memory: ``listing`` per prefix (a generator may be endless), failures on cue."""

    def __init__(self, listing: dict[str, Any] | None = None) -> None:
        self.listing = listing or {}
        self.listed = 0
        self.batches: list[list[str]] = []
        self.failures: dict[str, list[KeyFailure]] = {}

    def list_keys(self, prefix: str) -> Iterator[str]:
        for key in self.listing.get(prefix, ()):
            self.listed += 1
            yield key

    def delete_batch(self, keys: Sequence[str]) -> AttemptOutcome:
        self.batches.append(list(keys))
        outcome = AttemptOutcome()
        for key in keys:
            if self.failures.get(key):
                outcome.failed[key] = self.failures[key].pop(0)
            else:
                outcome.deleted.add(key)
        return outcome

    delete_singly = delete_batch


def endless(prefix: str) -> Iterator[str]:
    number = 0
    while True:
        yield f"{prefix}{number}"
        number += 1


def test_listing_stops_one_object_past_the_limit():
    store = FakeStore({"huge/": endless("huge/")})
    request = BulkDeleteRequest(object_keys=["a", "b"], path=["huge"])

    plan = plan_deletion(store, request, limit=10)

    assert plan.over_limit
    assert len(plan.keys) == 11
    assert store.listed == 9


def test_backoff_is_jittered_and_capped():
    pauses: list[float] = []
    policy = RetryPolicy(base_delay=0.1, max_delay=0.5, sleep=pauses.append)

    for retry_number in range(6):
        assert policy.pause_before(retry_number, Deadline.unbounded())

    ceilings = [min(0.5, 0.1 * 2**number) for number in range(6)]
    assert all(0 <= pause <= ceiling for pause, ceiling in zip(pauses, ceilings, strict=True))


@pytest.mark.parametrize(("path", "prefix"), [("pdf", "pdf/"), ("pdf/", "pdf/"), ("a/b", "a/b/"), ("a/b/", "a/b/"),
                                              ("...", ".../"), ("한글", "한글/"), (" ", " /")])
def test_folder_prefix(path, prefix):
    assert folder_prefix(path) == prefix


@pytest.mark.parametrize("path", ["", "/", "//", ".", "./", "..", "../x", "a/./b", "a/..", "/a", "a//b", "a//",
                                  "\ud800", "x" * 1024])
def test_folder_prefix_refuses_what_could_mean_the_whole_bucket_or_is_ambiguous(path):
    with pytest.raises(ValueError):
        folder_prefix(path)


@pytest.mark.parametrize("key", ["", "\udc00", "x" * 1025, "€" * 342])
def test_invalid_object_keys(key):
    with pytest.raises(ValueError):
        validate_object_key(key)


def test_keys_xml_cannot_carry():
    assert fits_in_xml("a/b c\tnew\nline.txt")
    assert fits_in_xml("한글 🎉")
    assert not fits_in_xml("bell\x07")
    assert not fits_in_xml("carriage\rreturn")
    assert not fits_in_xml("nul\x00")


# --- a throttling S3 and the invocation's time -------------------------------------------------------------------------
# The function's Timeout is 28 s (template.yaml); the fake clock moves only when S3 answers or Eraser waits.
FUNCTION_MS = 28_000


@pytest.fixture
def clock(monkeypatch) -> CountdownContext:
    context = CountdownContext(FUNCTION_MS)
    monkeypatch.setattr(deletion, "PER_KEY_RETRY", RetryPolicy(sleep=context.advance))
    return context


def tasks_recorded() -> list[dict[str, Any]]:
    return aws.table(config.settings().tasks_table).scan(
        FilterExpression="sk = :task", ExpressionAttributeValues={":task": "TASK"})["Items"]


def assert_answered_in_time(status: int, context: CountdownContext) -> None:
    # Never a 502: the answer leaves before the function's end, with the time kept to render it.
    assert status in (200, 202, 503)
    assert context.get_remaining_time_in_millis() >= 1000


def test_listing_throttled_on_every_call_becomes_a_task_before_the_function_ends(tenant, clock, monkeypatch):
    for number in range(30):
        tenant.put(f"big/{number:02}")
    tenant.put("keep.txt")

    with throttled_s3(tenant.s3, clock, monkeypatch, slow_down_operations={"ListObjectsV2"}) as s3:
        status, document = bulk_delete_call(tenant, {"object_keys": ["keep-too.txt"], "path": ["big"]},
                                            context=clock)

    assert_answered_in_time(status, clock)
    assert status == 202
    assert document["data"] == {"deleted_object_count": 0, "deleted_objects": [], "errors": [],
                                "task": document["data"]["task"]}
    assert s3.count("DeleteObjects") == 0 and 1 <= s3.count("ListObjectsV2") <= 8
    [task] = tasks_recorded()
    assert task["pk"] == f"TASK#{document['data']['task']['id']}"
    assert len(tenant.keys()) == 31


def test_slow_listing_becomes_a_task_without_listing_every_page(tenant, clock, monkeypatch):
    # 40 objects in pages of 2, each page 3 s: listing them all would take 60 s; the synchronous limit (10,000) is
    # never reached, only the listing's time.
    monkeypatch.setattr(deletion, "LIST_PAGE_SIZE", 2)
    for number in range(40):
        tenant.put(f"big/{number:02}")

    with throttled_s3(tenant.s3, clock, monkeypatch) as s3:
        status, document = bulk_delete_call(tenant, {"object_keys": [], "path": ["big"]}, context=clock)

    assert_answered_in_time(status, clock)
    assert status == 202 and document["data"]["deleted_object_count"] == 0
    assert s3.count("ListObjectsV2") < 20 and s3.count("DeleteObjects") == 0
    assert len(tenant.keys()) == 40


def test_keys_throttled_past_the_deadline_go_to_a_task_and_the_answer_lists_what_was_deleted(tenant, clock,
                                                                                            monkeypatch):
    keys = [f"k{number}" for number in range(10)]
    for key in [*keys, "keep.txt"]:
        tenant.put(key)

    # Each DeleteObjects takes 6 s: three attempts fit, the fourth would not finish in time.
    with throttled_s3(tenant.s3, clock, monkeypatch, call_seconds=6.0, throttled_keys=set(keys[5:])) as s3:
        status, document = bulk_delete_call(tenant, {"object_keys": keys, "path": []}, context=clock)

    assert_answered_in_time(status, clock)
    assert status == 202
    assert document["data"]["deleted_objects"] == keys[:5]
    assert document["data"]["deleted_object_count"] == 5 and document["data"]["errors"] == []
    assert s3.count("DeleteObjects") == 3
    # Exactly the reported keys are gone; the task has the others, and only them.
    assert tenant.keys() == sorted([*keys[5:], "keep.txt"])
    [task] = tasks_recorded()
    assert task["pk"] == f"TASK#{document['data']['task']['id']}"
    assert get_task(document["data"]["task"]["id"]).selection.keys == tuple(keys[5:])


def test_deletes_throttled_with_no_task_possible_are_503_with_retry_after_and_delete_nothing(tenant, stack, clock,
                                                                                          monkeypatch):
    for key in ("a", "b", "keep.txt"):
        tenant.put(key)
    # The listing queue is gone: no task can be queued to take the keys.
    boto3.client("sqs").delete_queue(QueueUrl=stack.queue_url("ListingQueue"))

    with throttled_s3(tenant.s3, clock, monkeypatch, slow_down_operations={"DeleteObjects"}):
        event = api_event("DELETE", ROUTE, query={"bucket": "photos"}, body={"object_keys": ["a", "b"], "path": []},
                          headers=tenant.headers)
        response = invoke("bulk_delete", event, clock)

    document = assert_matches_openapi(response, "DELETE", ROUTE)
    assert_answered_in_time(response["statusCode"], clock)
    assert response["statusCode"] == 503
    assert document["success"] is False and document["data"] is None
    assert document["exception"]["error_code"] == 503002
    assert response_header(response, "Retry-After") == "1"
    assert tenant.keys() == ["a", "b", "keep.txt"]


def test_partial_delete_with_no_task_possible_reports_the_keys_left_as_errors(tenant, stack, clock, monkeypatch):
    keys = [f"k{number}" for number in range(6)]
    for key in [*keys, "keep.txt"]:
        tenant.put(key)
    boto3.client("sqs").delete_queue(QueueUrl=stack.queue_url("ListingQueue"))

    with throttled_s3(tenant.s3, clock, monkeypatch, call_seconds=6.0, throttled_keys={"k1", "k4"}):
        status, document = bulk_delete_call(tenant, {"object_keys": keys, "path": []}, context=clock)

    assert_answered_in_time(status, clock)
    assert status == 200
    assert document["data"]["deleted_objects"] == ["k0", "k2", "k3", "k5"]
    assert [(error["key"], error["error_code"]) for error in document["data"]["errors"]] == [
        ("k1", "SlowDown"), ("k4", "SlowDown")]
    assert tenant.keys() == ["k1", "k4", "keep.txt"]


def test_keys_xml_cannot_carry_throttled_past_the_deadline_go_to_a_task(tenant, clock, monkeypatch):
    awkward = ["line\rbreak", "tab\x01key"]
    for key in [*awkward, "plain", "keep.txt"]:
        tenant.put(key)

    with throttled_s3(tenant.s3, clock, monkeypatch, slow_down_operations={"DeleteObject"}) as s3:
        status, document = bulk_delete_call(tenant, {"object_keys": ["plain", *awkward], "path": []},
                                            context=clock)

    assert_answered_in_time(status, clock)
    assert status == 202
    assert document["data"]["deleted_objects"] == ["plain"]
    assert s3.count("DeleteObjects") == 1 and s3.count("DeleteObject") >= 1
    assert get_task(document["data"]["task"]["id"]).selection.keys == tuple(awkward)
    assert tenant.keys() == sorted([*awkward, "keep.txt"])


def test_throttled_deletes_that_recover_in_time_are_200(tenant, clock, monkeypatch):
    tenant.put("a")
    # The first two answers throttle the key, the third lets it through.
    with throttled_s3(tenant.s3, clock, monkeypatch, call_seconds=1.0, throttled_keys={"a"},
                      throttled_answers=2) as s3:
        status, document = bulk_delete_call(tenant, {"object_keys": ["a"], "path": []}, context=clock)

    assert status == 200 and document["data"]["deleted_objects"] == ["a"]
    assert s3.count("DeleteObjects") == 3
    assert tasks_recorded() == [] and tenant.keys() == []


def test_per_key_pause_is_skipped_when_no_attempt_would_fit():
    waited: list[float] = []
    nearly_over = Deadline(lambda: retries.CALL_BUDGET_SECONDS - 0.5)

    assert not RetryPolicy(sleep=waited.append).pause_before(0, nearly_over)
    assert waited == []


def test_listing_stops_when_its_window_has_passed():
    store = FakeStore({"huge/": endless("huge/")})
    remaining = iter([5.0, 1.0, 0.0, -1.0])
    window = Deadline(lambda: next(remaining))

    plan = plan_deletion(store, BulkDeleteRequest(object_keys=[], path=["huge"]), limit=10_000,
                         listing_deadline=window)

    assert plan.out_of_time and not plan.over_limit
    assert store.listed == 3
