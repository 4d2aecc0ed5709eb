"""Issue-level journeys over HTTP on the local stack: a bucket of more than 5,000 objects purged (bucket, its S3
configuration and its Eraser record survive) and deleted (everything gone), and boto3 as a real S3 client of the
DeleteObject route."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import HttpResponse, LocalStack

OBJECTS = 5_200
TERMINAL = ("COMPLETED", "FAILED", "CANCELED")


def tenant(local_stack: LocalStack, sub_domain: str, bucket: str, *, versioned: bool = False) -> tuple[str, str]:
    """A fresh organization with an all-scopes key and a registered bucket; returns (api key, S3 bucket)."""
    organization = local_stack.admin("create-org", "--sub-domain", sub_domain, "--account-id", "123456789012")
    api_key = local_stack.admin("issue-key", "--org", organization["id"])["api_key"]
    arguments = ["register-bucket", "--org", organization["id"], "--name", bucket, "--create"]
    s3_bucket = local_stack.admin(*arguments, *(["--versioned"] if versioned else []))["s3_bucket"]
    return api_key, s3_bucket


def fill(local_stack: LocalStack, s3_bucket: str, count: int) -> None:
    keys = [f"data/{number % 7}/{number:05d}.bin" for number in range(count)] + ["data/", "empty-folder/"]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: local_stack.put(key, b"" if key.endswith("/") else b"0123456789", s3_bucket),
                      keys))


def poll(local_stack: LocalStack, task_id: str, api_key: str, *, limit_seconds: float = 300) -> dict[str, Any]:
    """Poll as the contract says: honour Retry-After while the task runs (capped here to keep the test quick)."""
    deadline = time.monotonic() + limit_seconds
    while True:
        response: HttpResponse = local_stack.request("GET", f"/v1/tasks/{task_id}", headers={"X-Api-Key": api_key})
        assert response.status == 200, response.text
        task = response.json()
        if task["status"] in TERMINAL:
            assert response.header("Retry-After") is None
            return task
        retry_after = response.header("Retry-After")
        assert retry_after is not None and retry_after.isdigit(), response.headers
        assert time.monotonic() < deadline, task
        time.sleep(min(int(retry_after), 2))


def all_versions(local_stack: LocalStack, s3_bucket: str) -> int:
    count = 0
    for page in local_stack.client("s3").get_paginator("list_object_versions").paginate(Bucket=s3_bucket):
        count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    return count


def test_purge_of_more_than_5000_objects_empties_the_bucket_and_keeps_it(local_stack: LocalStack) -> None:
    api_key, s3_bucket = tenant(local_stack, "e2e-purge-5k", "archive")
    s3 = local_stack.client("s3")
    s3.put_bucket_tagging(Bucket=s3_bucket, Tagging={"TagSet": [{"Key": "team", "Value": "platform"}]})
    fill(local_stack, s3_bucket, OBJECTS)

    started = local_stack.request("DELETE", "/storage/obj/archive/purge", headers={"X-Api-Key": api_key})

    assert started.status == 200, started.text
    assert started.json()["message"] == "success"
    task = poll(local_stack, started.json()["task"]["id"], api_key)
    assert task["status"] == "COMPLETED", task
    assert task["progress"]["objects_deleted"] == OBJECTS + 2  # and the two folder markers
    assert task["bucket_empty_at_end"] is True
    assert all_versions(local_stack, s3_bucket) == 0
    # The bucket, its S3 configuration and its Eraser record survive: it can be purged again by name.
    assert s3.get_bucket_tagging(Bucket=s3_bucket)["TagSet"] == [{"Key": "team", "Value": "platform"}]
    again = local_stack.request("DELETE", "/storage/obj/archive/purge", headers={"X-Api-Key": api_key})
    assert again.status == 200, again.text


def test_delete_bucket_of_more_than_5000_versions_removes_the_bucket_and_its_records(local_stack: LocalStack) -> None:
    api_key, s3_bucket = tenant(local_stack, "e2e-delete-5k", "old-media", versioned=True)
    fill(local_stack, s3_bucket, OBJECTS)
    local_stack.client("s3").delete_object(Bucket=s3_bucket, Key="data/0/00000.bin")  # a delete marker too

    started = local_stack.request("DELETE", "/v1/buckets/old-media", headers={"X-Api-Key": api_key})

    assert started.status == 200, started.text
    body = started.json()
    assert body["status"] == "PENDING" and body["bucket_name"] == "old-media"
    task = poll(local_stack, body["task_id"], api_key)
    assert task["status"] == "COMPLETED", task
    assert task["bucket_deleted"] is True
    with pytest.raises(ClientError) as missing:
        local_stack.client("s3").head_bucket(Bucket=s3_bucket)
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
    # The Eraser record is gone too: the bucket is now unknown to every endpoint.
    gone = local_stack.request("DELETE", "/v1/buckets/old-media", headers={"X-Api-Key": api_key})
    assert gone.status == 404 and gone.json()["error"]["type"] == "NotFoundError", gone.text


# --- boto3 as a real client of the S3-style route ---------------------------------------------------------------------
@pytest.fixture
def eraser_s3(local_stack: LocalStack) -> Any:
    """boto3's S3 client pointed at Eraser's /s3 mount: unsigned, with the API key added to every request."""
    client = boto3.client("s3", endpoint_url=f"{local_stack.base_url}/s3", region_name="us-east-1",
                          config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                        retries={"max_attempts": 1}))

    def add_api_key(request: Any, **_: Any) -> None:
        request.headers["X-Api-Key"] = local_stack.api_key

    client.meta.events.register("before-send.s3", add_api_key)
    return client


def test_boto3_deletes_through_eraser_and_reads_its_s3_errors(local_stack: LocalStack, eraser_s3: Any) -> None:
    key = "e2e/boto3/report.csv"
    local_stack.put(key, b"a,b,c\n")
    etag = local_stack.client("s3").head_object(Bucket=local_stack.s3_bucket, Key=key)["ETag"]

    with pytest.raises(ClientError) as wrong_etag:
        eraser_s3.delete_object(Bucket=local_stack.bucket, Key=key, IfMatch='"0123456789abcdef0123456789abcdef"')
    assert wrong_etag.value.response["Error"]["Code"] == "PreconditionFailed"
    assert wrong_etag.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as wrong_size:
        eraser_s3.delete_object(Bucket=local_stack.bucket, Key=key, IfMatchSize=999)
    assert wrong_size.value.response["Error"]["Code"] == "PreconditionFailed"
    with pytest.raises(ClientError) as wrong_owner:
        eraser_s3.delete_object(Bucket=local_stack.bucket, Key=key, ExpectedBucketOwner="999999999999")
    assert wrong_owner.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as no_bucket:
        eraser_s3.delete_object(Bucket="no-such-bucket", Key=key)
    assert no_bucket.value.response["Error"]["Code"] == "NoSuchBucket"
    assert local_stack.exists(key)  # none of the refused requests deleted anything

    deleted = eraser_s3.delete_object(Bucket=local_stack.bucket, Key=key, IfMatch=etag, IfMatchSize=6,
                                      ExpectedBucketOwner="123456789012")

    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert deleted["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
    assert not local_stack.exists(key)
    # Idempotent: deleting again is still 204.
    assert eraser_s3.delete_object(Bucket=local_stack.bucket, Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
