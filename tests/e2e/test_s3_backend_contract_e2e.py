"""S3's contract as Eraser relies on it, on whichever backend the stack runs (``make e2e``: moto; ``make
e2e-seaweedfs``: SeaweedFS, a real S3 implementation).

moto ignores an unknown version id (its DeleteObject removes the current object), ``ExpectedBucketOwner``, per-key
ETags in DeleteObjects and the 1,000-key limit, and stops listing versions when its marker names a version just
deleted. A test passing on moto alone may only pass because Eraser never asks moto the question; on SeaweedFS, the
same route must give the same answer. The backend tests at the end (skipped on moto, which fails them) show the
stack's second backend really is the stricter one, so a green ``make e2e-seaweedfs`` means something.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import LocalStack

UNKNOWN_VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"  # well formed, never issued


def _tenant(local_stack: LocalStack, *, versioned: bool) -> tuple[dict[str, str], str, str]:
    """A fresh organization, its key's headers, its bucket's API name and S3 name."""
    organization = local_stack.admin("create-org", "--sub-domain", f"contract-{secrets.token_hex(3)}",
                                     "--account-id", "123456789012")
    api_key = local_stack.admin("issue-key", "--org", organization["id"])["api_key"]
    name = "contract"
    s3_bucket = local_stack.admin("register-bucket", "--org", organization["id"], "--name", name, "--create",
                                  *(["--versioned"] if versioned else []))["s3_bucket"]
    return {"X-Api-Key": api_key}, name, s3_bucket


def _versions(local_stack: LocalStack, s3_bucket: str) -> list[tuple[str, str, bool]]:
    listed = []
    for page in local_stack.client("s3").get_paginator("list_object_versions").paginate(Bucket=s3_bucket):
        listed += [(entry["Key"], entry["VersionId"], False) for entry in page.get("Versions", [])]
        listed += [(entry["Key"], entry["VersionId"], True) for entry in page.get("DeleteMarkers", [])]
    return sorted(listed)


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_a_well_formed_version_id_naming_nothing_deletes_nothing(local_stack: LocalStack, versioned: bool) -> None:
    """moto's and SeaweedFS's DeleteObject both remove the current object of an unversioned bucket when the id
    names nothing (and SeaweedFS's HEAD describes that object); S3 answers 204 and deletes nothing."""
    auth, name, s3_bucket = _tenant(local_stack, versioned=versioned)
    local_stack.put("kept.txt", b"still here", s3_bucket)
    before = _versions(local_stack, s3_bucket)

    response = local_stack.request("DELETE", f"/s3/{name}/kept.txt?versionId={UNKNOWN_VERSION}", headers=auth)

    assert response.status == 204, response.text
    assert response.header("x-amz-version-id") == UNKNOWN_VERSION
    assert response.header("x-amz-delete-marker") is None
    assert _versions(local_stack, s3_bucket) == before
    assert local_stack.exists("kept.txt", s3_bucket)


def test_a_malformed_version_id_is_refused_and_deletes_nothing(local_stack: LocalStack) -> None:
    auth, name, s3_bucket = _tenant(local_stack, versioned=False)
    local_stack.put("kept.txt", b"still here", s3_bucket)

    response = local_stack.request("DELETE", f"/s3/{name}/kept.txt?versionId=..%2F..%2Fx", headers=auth)

    assert response.status == 400, response.text
    assert "<Code>InvalidArgument</Code>" in response.text
    assert local_stack.exists("kept.txt", s3_bucket)


def test_the_null_version_of_an_unversioned_object_is_deleted_by_its_id(local_stack: LocalStack) -> None:
    auth, name, s3_bucket = _tenant(local_stack, versioned=False)
    local_stack.put("gone.txt", b"x", s3_bucket)
    local_stack.put("kept.txt", b"x", s3_bucket)

    response = local_stack.request("DELETE", f"/s3/{name}/gone.txt?versionId=null", headers=auth)

    assert response.status == 204, response.text
    assert not local_stack.exists("gone.txt", s3_bucket)
    assert local_stack.exists("kept.txt", s3_bucket)


def test_one_version_named_by_id_is_the_only_one_deleted(local_stack: LocalStack) -> None:
    auth, name, s3_bucket = _tenant(local_stack, versioned=True)
    s3 = local_stack.client("s3")
    old = s3.put_object(Bucket=s3_bucket, Key="doc.txt", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket=s3_bucket, Key="doc.txt", Body=b"new")["VersionId"]

    response = local_stack.request("DELETE", f"/s3/{name}/doc.txt?versionId={old}", headers=auth)

    assert response.status == 204, response.text
    assert response.header("x-amz-version-id") == old
    assert _versions(local_stack, s3_bucket) == [("doc.txt", new, False)]


def test_if_match_deletes_only_the_object_it_names(local_stack: LocalStack) -> None:
    auth, name, s3_bucket = _tenant(local_stack, versioned=False)
    etag = local_stack.client("s3").put_object(Bucket=s3_bucket, Key="doc.txt", Body=b"x")["ETag"]

    refused = local_stack.request("DELETE", f"/s3/{name}/doc.txt",
                                  headers={**auth, "If-Match": '"0123456789abcdef0123456789abcdef"'})
    assert refused.status == 412, refused.text
    assert local_stack.exists("doc.txt", s3_bucket)

    accepted = local_stack.request("DELETE", f"/s3/{name}/doc.txt", headers={**auth, "If-Match": etag})
    assert accepted.status == 204, accepted.text
    assert not local_stack.exists("doc.txt", s3_bucket)


@pytest.mark.parametrize("header", ["x-amz-if-match-size", "x-amz-if-match-last-modified-time"])
def test_size_and_time_conditions_that_do_not_hold_delete_nothing(local_stack: LocalStack, header: str) -> None:
    """Both backends ignore these headers (AWS honours them on directory buckets only): Eraser judges them."""
    auth, name, s3_bucket = _tenant(local_stack, versioned=False)
    local_stack.put("doc.txt", b"x", s3_bucket)
    value = "999" if header == "x-amz-if-match-size" else "Mon, 01 Jan 2001 00:00:00 GMT"

    response = local_stack.request("DELETE", f"/s3/{name}/doc.txt", headers={**auth, header: value})

    assert response.status == 412, response.text
    assert local_stack.exists("doc.txt", s3_bucket)


def test_another_account_as_expected_bucket_owner_deletes_nothing(local_stack: LocalStack) -> None:
    """Both backends ignore ExpectedBucketOwner (the probe in local/s3_probe.py): Eraser checks it itself."""
    auth, name, s3_bucket = _tenant(local_stack, versioned=False)
    local_stack.put("doc.txt", b"x", s3_bucket)

    response = local_stack.request("DELETE", f"/s3/{name}/doc.txt",
                                   headers={**auth, "x-amz-expected-bucket-owner": "111111111111"})

    assert response.status == 403, response.text
    assert local_stack.exists("doc.txt", s3_bucket)


def test_a_delete_on_a_versioned_bucket_adds_a_marker_and_deleting_the_marker_restores(
        local_stack: LocalStack) -> None:
    auth, name, s3_bucket = _tenant(local_stack, versioned=True)
    version = local_stack.client("s3").put_object(Bucket=s3_bucket, Key="doc.txt", Body=b"x")["VersionId"]

    deleted = local_stack.request("DELETE", f"/s3/{name}/doc.txt", headers=auth)
    assert deleted.status == 204, deleted.text
    assert deleted.header("x-amz-delete-marker") == "true"
    marker = deleted.header("x-amz-version-id")
    assert marker and marker != version
    assert _versions(local_stack, s3_bucket) == sorted([("doc.txt", version, False), ("doc.txt", marker, True)])

    restored = local_stack.request("DELETE", f"/s3/{name}/doc.txt?versionId={marker}", headers=auth)
    assert restored.status == 204, restored.text
    assert restored.header("x-amz-delete-marker") == "true"
    assert _versions(local_stack, s3_bucket) == [("doc.txt", version, False)]
    assert local_stack.exists("doc.txt", s3_bucket)


def test_bulk_delete_removes_exactly_the_keys_and_folders_named(local_stack: LocalStack) -> None:
    auth, name, s3_bucket = _tenant(local_stack, versioned=False)
    for key in ("a.txt", "b.txt", "docs/1.txt", "docs/2.txt", "docs-old/1.txt", "other.txt"):
        local_stack.put(key, b"x", s3_bucket)

    response = local_stack.request("DELETE", f"/v1/storage/objects?bucket={name}", headers=auth,
                                   body={"object_keys": ["a.txt", "b.txt", "absent.txt"], "path": ["docs/"]})

    assert response.status == 200, response.text
    left = sorted(entry["Key"] for entry in local_stack.client("s3").list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert left == ["docs-old/1.txt", "other.txt"]


# --- the backend itself -------------------------------------------------------------------------------------------
def _backend_only(local_stack: LocalStack, moto_weakness: str) -> None:
    if local_stack.backend == "moto":
        pytest.skip(f"moto {moto_weakness}: this checks the stricter backend (make e2e-seaweedfs)")


def _s3_error(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_the_backend_refuses_a_delete_objects_key_whose_etag_differs(local_stack: LocalStack) -> None:
    _backend_only(local_stack, "deletes a DeleteObjects key whatever its ETag")
    _, _, s3_bucket = _tenant(local_stack, versioned=False)
    s3 = local_stack.client("s3")
    local_stack.put("doc.txt", b"x", s3_bucket)

    response = s3.delete_objects(Bucket=s3_bucket, Delete={
        "Objects": [{"Key": "doc.txt", "ETag": '"0123456789abcdef0123456789abcdef"'}]})

    assert [error["Code"] for error in response.get("Errors", [])] == ["PreconditionFailed"]
    assert local_stack.exists("doc.txt", s3_bucket)


def test_the_backend_refuses_more_than_1000_keys_in_one_delete_objects(local_stack: LocalStack) -> None:
    _backend_only(local_stack, "accepts and deletes 1,001 keys in one DeleteObjects")
    _, _, s3_bucket = _tenant(local_stack, versioned=False)
    s3 = local_stack.client("s3")
    local_stack.put("k0000", b"x", s3_bucket)

    code = _s3_error(lambda: s3.delete_objects(Bucket=s3_bucket, Delete={
        "Objects": [{"Key": f"k{index:04d}"} for index in range(1001)], "Quiet": True}))

    assert code in ("MalformedXML", "InvalidArgument")
    assert local_stack.exists("k0000", s3_bucket)


def test_the_backend_pages_versions_on_while_each_page_is_deleted(local_stack: LocalStack) -> None:
    """What a purge does: list a page, delete it, ask for the next page after a marker that is now gone."""
    _backend_only(local_stack, "ends the listing when its VersionIdMarker names a version just deleted")
    _, _, s3_bucket = _tenant(local_stack, versioned=True)
    s3 = local_stack.client("s3")
    for round_ in range(2):
        for index in range(15):
            local_stack.put(f"data/{index:03d}", f"{round_}".encode(), s3_bucket)
    expected = _versions(local_stack, s3_bucket)

    listed: list[tuple[str, str, bool]] = []
    arguments: dict[str, Any] = {"Bucket": s3_bucket, "MaxKeys": 7}
    for _ in range(50):
        page = s3.list_object_versions(**arguments)
        entries = [(entry["Key"], entry["VersionId"], False) for entry in page.get("Versions", [])]
        listed += entries
        if entries:
            s3.delete_objects(Bucket=s3_bucket, Delete={"Objects": [{"Key": key, "VersionId": version}
                                                                    for key, version, _ in entries]})
        if not page.get("IsTruncated"):
            break
        arguments.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page.get("NextVersionIdMarker", ""))

    assert sorted(listed) == expected
    assert _versions(local_stack, s3_bucket) == []
