"""Every S3 operation Eraser does not implement on the /s3 paths answers 501 NotImplemented in S3's XML, before
credentials are read and before anything touches S3; the bucket is checked afterwards."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from local.template import load_template
from tests.s3bridge import s3_client
from tests.support import Tenant, api_event, invoke
from tests.unit.test_delete_object import assert_error


def not_implemented_routes() -> list[tuple[str, str]]:
    function = load_template()["Resources"]["S3NotImplementedFunction"]
    return sorted((event["Properties"]["Method"], event["Properties"]["Path"])
                  for event in function["Properties"]["Events"].values())


@pytest.mark.parametrize(("method", "resource"), not_implemented_routes())
def test_every_route_of_the_function_answers_501_without_credentials_and_changes_nothing(
        tenant: Tenant, method: str, resource: str) -> None:
    tenant.put("a.txt", b"original")
    parameters = {name: value for name, value in (("bucket", "photos"), ("key", "a.txt")) if "{" + name in resource}
    event = api_event(method, resource, parameters, query={"tagging": ""}, body="overwritten",
                      content_type="text/plain")

    response = invoke("s3_not_implemented", event)

    assert_error(response, 501, "NotImplemented")
    assert tenant.s3.get_object(Bucket=tenant.bucket.s3_bucket, Key="a.txt")["Body"].read() == b"original"


@pytest.mark.parametrize("call", [
    lambda s3: s3.put_object(Bucket="photos", Key="a.txt", Body=b"overwritten"),
    lambda s3: s3.get_object(Bucket="photos", Key="a.txt"),
    lambda s3: s3.put_object_tagging(Bucket="photos", Key="a.txt", Tagging={"TagSet": []}),
    lambda s3: s3.create_multipart_upload(Bucket="photos", Key="a.txt"),
    lambda s3: s3.put_object_acl(Bucket="photos", Key="a.txt", ACL="private"),
    lambda s3: s3.put_object_legal_hold(Bucket="photos", Key="a.txt", LegalHold={"Status": "ON"}),
    lambda s3: s3.put_bucket_lifecycle_configuration(Bucket="photos", LifecycleConfiguration={"Rules": []}),
    lambda s3: s3.delete_bucket(Bucket="photos"),
    lambda s3: s3.delete_object_tagging(Bucket="photos", Key="a.txt"),
    lambda s3: s3.abort_multipart_upload(Bucket="photos", Key="a.txt", UploadId="x"),
], ids=["put", "get", "put-tagging", "multipart", "acl", "legal-hold", "lifecycle", "delete-bucket",
        "delete-tagging", "abort-multipart"])
def test_boto3_operations_eraser_does_not_implement_are_501(tenant: Tenant, call) -> None:  # type: ignore[no-untyped-def]
    from eraser.auth import CredentialStore

    tenant.put("a.txt", b"original")
    secret, record = CredentialStore().issue_s3_key(tenant.organization.id, ["objects:delete", "objects:read"])

    with pytest.raises(ClientError) as raised:
        call(s3_client(record.access_key_id, secret))

    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert tenant.s3.get_object(Bucket=tenant.bucket.s3_bucket, Key="a.txt")["Body"].read() == b"original"
    assert tenant.keys() == ["a.txt"]
