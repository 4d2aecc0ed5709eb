"""S3 access keys: issued by the admin command, stored encrypted with KMS, verified as SigV4 on DELETE /s3/... .

Requests are signed by botocore's own S3 signer and delivered to the real handler as API Gateway events; every test
checks the bucket afterwards."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from eraser import admin, errors
from eraser.auth import CredentialStore, Scope, authenticate
from eraser.sigv4 import SignedRequest
from tests.support import AwsStack, Tenant, api_event, invoke

RESOURCE = "/s3/{bucket}/{key+}"
HOST = "127.0.0.1:3000"


def issue(capsys: pytest.CaptureFixture[str], tenant: Tenant, scopes: str = "all") -> tuple[str, str]:
    assert admin.main(["issue-s3-key", "--org", tenant.organization.sub_domain, "--scopes", scopes]) == 0
    issued = json.loads(capsys.readouterr().out)
    return issued["access_key_id"], issued["secret_access_key"]


def signed_delete_event(access_key_id: str, secret: str, bucket: str, key: str, *, prefix: str = "",
                        version_id: str | None = None, presign: bool = False) -> dict[str, Any]:
    """The event API Gateway gives the function for a DELETE that botocore signed for ``http://HOST{prefix}/s3/...``."""
    url = f"http://{HOST}{prefix}/s3/{quote(bucket)}/{quote(key, safe='/~')}"
    if version_id is not None:
        url += f"?versionId={quote(version_id, safe='')}"
    aws_request = AWSRequest(method="DELETE", url=url)
    signer = (S3SigV4QueryAuth(Credentials(access_key_id, secret), "s3", "us-east-1", expires=300) if presign
              else S3SigV4Auth(Credentials(access_key_id, secret), "s3", "us-east-1"))
    signer.add_auth(aws_request)
    headers = {"Host": HOST, **{name: str(value) for name, value in aws_request.headers.items()}}
    query = dict(parse_qsl(urlsplit(aws_request.url).query, keep_blank_values=True))
    event = api_event("DELETE", RESOURCE, {"bucket": bucket, "key": key}, query=query or None, headers=headers,
                      content_type=None)
    # What API Gateway reports as received: the stage first (tests/support's stage is "test"), whether the client's
    # URL had it (an execute-api URL) or not (a custom domain).
    event["requestContext"]["path"] = "/test" + urlsplit(url).path.removeprefix(prefix)
    return event


def error_code(response: dict[str, Any]) -> str:
    root = ElementTree.fromstring(response["body"].split("\n", 1)[1])  # noqa: S314 - our own response
    return str(root.findtext("Code"))


def test_issued_secret_is_stored_only_encrypted_and_revocable(stack: AwsStack, tenant: Tenant,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    assert len(access_key_id) == 20 and access_key_id.startswith("EK")
    items = boto3.resource("dynamodb").Table(stack.environment["CREDENTIALS_TABLE"]).scan()["Items"]
    assert any(item["pk"] == f"S3KEY#{access_key_id}" for item in items)
    assert all(secret not in str(item) for item in items)
    assert admin.main(["revoke-s3-key", "--access-key-id", access_key_id]) == 0
    record = CredentialStore().lookup_s3_key(access_key_id)
    assert record is not None and record.revoked


def test_secret_ciphertext_moved_to_another_key_does_not_decrypt(stack: AwsStack, tenant: Tenant,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = issue(capsys, tenant)
    second, second_secret = issue(capsys, tenant)
    table = boto3.resource("dynamodb").Table(stack.environment["CREDENTIALS_TABLE"])
    stolen = table.get_item(Key={"pk": f"S3KEY#{first}"})["Item"]["secret_ciphertext"]
    table.update_item(Key={"pk": f"S3KEY#{second}"}, UpdateExpression="SET secret_ciphertext = :c",
                      ExpressionAttributeValues={":c": stolen})
    tenant.put("a.txt")
    response = invoke_signed(signed_delete_event(second, second_secret, "photos", "a.txt"))
    assert response["statusCode"] == 403 and error_code(response) == "InvalidAccessKeyId"
    assert tenant.keys() == ["a.txt"]


def invoke_signed(event: dict[str, Any]) -> dict[str, Any]:
    return invoke("delete_object", event)


def test_botocore_signed_delete_removes_exactly_that_object(tenant: Tenant,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    for key in ("dir/a b+c=ü.txt", "dir/other.txt", "keep.txt"):
        tenant.put(key)
    response = invoke_signed(signed_delete_event(access_key_id, secret, "photos", "dir/a b+c=ü.txt"))
    assert response["statusCode"] == 204, response.get("body")
    assert tenant.keys() == ["dir/other.txt", "keep.txt"]


def test_a_signature_over_the_stage_prefixed_path_verifies(tenant: Tenant,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    tenant.put("a.txt")
    response = invoke_signed(signed_delete_event(access_key_id, secret, "photos", "a.txt", prefix="/test"))
    assert response["statusCode"] == 204, response.get("body")
    assert tenant.keys() == []


def test_a_presigned_delete_url_deletes(tenant: Tenant, capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    tenant.put("a.txt")
    tenant.put("b.txt")
    response = invoke_signed(signed_delete_event(access_key_id, secret, "photos", "a.txt", presign=True))
    assert response["statusCode"] == 204, response.get("body")
    assert tenant.keys() == ["b.txt"]


def test_a_wrong_secret_is_signature_does_not_match_and_deletes_nothing(tenant: Tenant,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    tenant.put("a.txt")
    # Flip the last character to one it cannot already be: "x" alone equals the secret once in 64 draws.
    wrong_secret = secret[:-1] + ("y" if secret.endswith("x") else "x")
    response = invoke_signed(signed_delete_event(access_key_id, wrong_secret, "photos", "a.txt"))
    assert response["statusCode"] == 403
    assert error_code(response) == "SignatureDoesNotMatch"
    assert tenant.keys() == ["a.txt"]


def test_a_signature_for_one_key_does_not_delete_another(tenant: Tenant,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    tenant.put("aA")
    tenant.put("a%41")
    event = signed_delete_event(access_key_id, secret, "photos", "aA")
    event["pathParameters"]["key"] = "a%41"
    event["path"] = "/s3/photos/a%41"
    response = invoke_signed(event)
    assert response["statusCode"] == 403 and error_code(response) == "SignatureDoesNotMatch"
    assert tenant.keys() == ["a%41", "aA"]


def test_an_unknown_or_revoked_access_key_is_invalid_access_key_id(tenant: Tenant,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    tenant.put("a.txt")
    response = invoke_signed(signed_delete_event("EKUNKNOWNKEY00000000", secret, "photos", "a.txt"))
    assert response["statusCode"] == 403 and error_code(response) == "InvalidAccessKeyId"
    assert CredentialStore().revoke_s3_key(access_key_id)
    response = invoke_signed(signed_delete_event(access_key_id, secret, "photos", "a.txt"))
    assert response["statusCode"] == 403 and error_code(response) == "InvalidAccessKeyId"
    assert tenant.keys() == ["a.txt"]


def test_an_s3_key_without_the_scope_is_refused(tenant: Tenant, capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant, scopes="tasks:read")
    tenant.put("a.txt")
    response = invoke_signed(signed_delete_event(access_key_id, secret, "photos", "a.txt"))
    assert response["statusCode"] == 403 and error_code(response) == "AccessDenied"
    assert tenant.keys() == ["a.txt"]


def test_another_organizations_bucket_is_no_such_bucket(tenant: Tenant, other_tenant: Tenant,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    other_tenant.put("a.txt")
    response = invoke_signed(signed_delete_event(access_key_id, secret, other_tenant.bucket.name + "-nope", "a.txt"))
    assert response["statusCode"] == 404 and error_code(response) == "NoSuchBucket"
    assert other_tenant.keys() == ["a.txt"]


def test_a_skewed_clock_is_request_time_too_skewed(tenant: Tenant, capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    tenant.put("a.txt")
    event = signed_delete_event(access_key_id, secret, "photos", "a.txt")
    event["headers"]["X-Amz-Date"] = "20200101T000000Z"
    event["multiValueHeaders"]["X-Amz-Date"] = ["20200101T000000Z"]
    response = invoke_signed(event)
    assert response["statusCode"] == 403 and error_code(response) == "RequestTimeTooSkewed"
    assert tenant.keys() == ["a.txt"]


def test_api_keys_still_work_and_json_families_refuse_sigv4(tenant: Tenant) -> None:
    assert authenticate(tenant.headers, Scope.OBJECTS_DELETE).organization.id == tenant.organization.id
    signed = SignedRequest(method="DELETE", canonical_uris=("/",), query=(),
                           headers={"authorization": ("AWS4-HMAC-SHA256 Credential=x",)})
    # Without the whole request (every family but /s3) an AWS4 Authorization header is just an invalid credential.
    with pytest.raises(errors.InvalidCredentials):
        authenticate({"authorization": signed.headers["authorization"][0]}, Scope.OBJECTS_DELETE)


def test_a_signed_request_for_a_key_that_is_not_utf8_is_refused_not_a_500(tenant: Tenant,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    access_key_id, secret = issue(capsys, tenant)
    tenant.put("kept.txt")
    event = signed_delete_event(access_key_id, secret, "photos", "kept.txt")
    event["pathParameters"]["key"] = "bad\ud800key"
    event["path"] = "/s3/photos/bad\ud800key"
    response = invoke_signed(event)
    assert response["statusCode"] == 403 and error_code(response) == "SignatureDoesNotMatch"
    assert tenant.keys() == ["kept.txt"]
