"""Probe the S3 behaviours Eraser depends on, on moto's server and on SeaweedFS, and print what each did.

    .venv/bin/python -m local.s3_probe            # both backends, a Markdown table
    .venv/bin/python -m local.s3_probe --json     # the raw observations

Each probe works in a bucket of its own, with boto3 as the functions use it, and reports what the backend answered
and what the bucket holds afterwards. docs/local.md's table of differences is this script's output, with real S3's
column taken from AWS's documentation (nothing here talks to AWS).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local.backend import moto_server, project_python
from local.seaweedfs import ACCESS_KEY_ID, SECRET_ACCESS_KEY

WELL_FORMED_UNKNOWN_VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
OTHER_ACCOUNT = "111111111111"

Probe = Callable[[Any], str]
PROBES: list[tuple[str, Probe]] = []


def probe(name: str) -> Callable[[Probe], Probe]:
    def register(function: Probe) -> Probe:
        PROBES.append((name, function))
        return function

    return register


def _bucket(s3: Any, versioning: str | None = None) -> str:
    name = f"probe-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    return name


def _error(error: ClientError) -> str:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = error.response.get("Error", {}).get("Code", "")
    return f"{status} {code}".strip()


def _status(call: Callable[[], Any]) -> str:
    try:
        response = call()
    except ClientError as error:
        return _error(error)
    return str(response["ResponseMetadata"]["HTTPStatusCode"])


def _head(s3: Any, bucket: str, key: str, version_id: str) -> str:
    """HEAD of a version: its status, and the version id and delete-marker headers it carried."""
    try:
        response = s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    except ClientError as error:
        headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        flag = " x-amz-delete-marker: true" if headers.get("x-amz-delete-marker") == "true" else ""
        return f"{error.response['ResponseMetadata']['HTTPStatusCode']}{flag}"
    named = response.get("VersionId")
    return f"200 (x-amz-version-id: {named if named else 'absent'})"


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def _kept(s3: Any, bucket: str, key: str) -> str:
    return "object kept" if _exists(s3, bucket, key) else "OBJECT DELETED"


def _versions(s3: Any, bucket: str, **arguments: Any) -> list[tuple[str, str, bool]]:
    """(key, version id, is marker) for every version, paged with ``arguments``."""
    listed = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, **arguments):
        listed += [(entry["Key"], entry["VersionId"], False) for entry in page.get("Versions", [])]
        listed += [(entry["Key"], entry["VersionId"], True) for entry in page.get("DeleteMarkers", [])]
    return listed


@probe("DeleteObject, well-formed versionId naming nothing, unversioned bucket")
def unknown_version_unversioned(s3: Any) -> str:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    head = _head(s3, bucket, "k", WELL_FORMED_UNKNOWN_VERSION)
    delete = _status(lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId=WELL_FORMED_UNKNOWN_VERSION))
    return f"HEAD {head}; DELETE {delete}, {_kept(s3, bucket, 'k')}"


@probe("DeleteObject, well-formed versionId naming nothing, versioning Enabled")
def unknown_version_enabled(s3: Any) -> str:
    bucket = _bucket(s3, "Enabled")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    head = _status(lambda: s3.head_object(Bucket=bucket, Key="k", VersionId=WELL_FORMED_UNKNOWN_VERSION))
    delete = _status(lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId=WELL_FORMED_UNKNOWN_VERSION))
    return f"HEAD {head}; DELETE {delete}, {_kept(s3, bucket, 'k')}, {len(_versions(s3, bucket))} version(s)"


@probe("DeleteObject, malformed versionId (`../../x`), unversioned bucket")
def malformed_version(s3: Any) -> str:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    delete = _status(lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId="../../x"))
    return f"DELETE {delete}, {_kept(s3, bucket, 'k')}"


@probe("ExpectedBucketOwner of another account (DeleteObject, DeleteObjects)")
def expected_bucket_owner(s3: Any) -> str:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    s3.put_object(Bucket=bucket, Key="b", Body=b"x")
    single = _status(lambda: s3.delete_object(Bucket=bucket, Key="a", ExpectedBucketOwner=OTHER_ACCOUNT))
    bulk = _status(lambda: s3.delete_objects(Bucket=bucket, ExpectedBucketOwner=OTHER_ACCOUNT,
                                             Delete={"Objects": [{"Key": "b"}]}))
    return (f"DeleteObject {single}, {'a kept' if _exists(s3, bucket, 'a') else 'A DELETED'}; "
            f"DeleteObjects {bulk}, {'b kept' if _exists(s3, bucket, 'b') else 'B DELETED'}")


@probe("DeleteObject If-Match: wrong ETag / right ETag")
def if_match(s3: Any) -> str:
    bucket = _bucket(s3)
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    wrong = _status(lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"'))
    kept = _kept(s3, bucket, "k")
    right = _status(lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag))
    return f"wrong: {wrong}, {kept}; right: {right}, {'deleted' if not _exists(s3, bucket, 'k') else 'NOT DELETED'}"


@probe("DeleteObject If-Match on a missing key")
def if_match_missing(s3: Any) -> str:
    bucket = _bucket(s3)
    return _status(lambda: s3.delete_object(Bucket=bucket, Key="absent", IfMatch='"0123456789abcdef0123456789abcdef"'))


@probe("DeleteObject IfMatchSize: wrong size")
def if_match_size(s3: Any) -> str:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    delete = _status(lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatchSize=999))
    return f"{delete}, {_kept(s3, bucket, 'k')}"


@probe("DeleteObject IfMatchLastModifiedTime: wrong time")
def if_match_last_modified(s3: Any) -> str:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    delete = _status(lambda: s3.delete_object(Bucket=bucket, Key="k",
                                              IfMatchLastModifiedTime=datetime(2001, 1, 1, tzinfo=UTC)))
    return f"{delete}, {_kept(s3, bucket, 'k')}"


@probe("DeleteObjects with a wrong per-key ETag")
def delete_objects_etag(s3: Any) -> str:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    try:
        response = s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": "k", "ETag": '"0123456789abcdef0123456789abcdef"'}]})
    except ClientError as error:
        return f"{_error(error)}, {_kept(s3, bucket, 'k')}"
    errors = [entry.get("Code") for entry in response.get("Errors", [])]
    deleted = [entry["Key"] for entry in response.get("Deleted", [])]
    return f"200, Deleted {deleted}, Errors {errors}, {_kept(s3, bucket, 'k')}"


@probe("DeleteObjects with 1,001 keys")
def delete_objects_limit(s3: Any) -> str:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k0000", Body=b"x")
    objects = [{"Key": f"k{index:04d}"} for index in range(1001)]
    try:
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    except ClientError as error:
        return f"{_error(error)}, {_kept(s3, bucket, 'k0000')}"
    return f"200 ({len(response.get('Errors', []))} errors), {_kept(s3, bucket, 'k0000')}"


@probe("DeleteObjects of absent keys (unversioned)")
def delete_objects_absent(s3: Any) -> str:
    bucket = _bucket(s3)
    response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "absent"}]})
    return f"Deleted {[entry['Key'] for entry in response.get('Deleted', [])]}, Errors {response.get('Errors', [])}"


@probe("ListObjectVersions paging (MaxKeys=7) after deleting every other version")
def list_versions_after_deletes(s3: Any) -> str:
    bucket = _bucket(s3, "Enabled")
    for round_ in range(3):
        for index in range(20):
            s3.put_object(Bucket=bucket, Key=f"data/{index:03d}", Body=f"{round_}".encode())
    everything = _versions(s3, bucket)
    doomed = everything[::2]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": version}
                                                         for key, version, _ in doomed]})
    expected = set(everything) - set(doomed)
    paged = _versions(s3, bucket, PaginationConfig={"PageSize": 7})
    missing = len(expected - set(paged))
    extra = len(set(paged) - expected)
    duplicates = len(paged) - len(set(paged))
    return (f"{len(everything)} versions, {len(doomed)} deleted by id: paged listing {len(paged)} entries, "
            f"{missing} missing, {extra} extra, {duplicates} duplicated")


@probe("Versioning Suspended: PUT twice, then DELETE without versionId")
def suspended_null_versions(s3: Any) -> str:
    bucket = _bucket(s3, "Enabled")
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"2").get("VersionId")
    s3.put_object(Bucket=bucket, Key="k", Body=b"3")
    after_puts = _versions(s3, bucket)
    delete = s3.delete_object(Bucket=bucket, Key="k")
    after_delete = _versions(s3, bucket)

    def describe(versions: list[tuple[str, str, bool]]) -> str:
        return "+".join(sorted(("null" if version == "null" else "id") + ("-marker" if marker else "")
                               for _, version, marker in versions)) or "nothing"

    return (f"PUT answers version {put!r}; after 2 PUTs: {describe(after_puts)}; DELETE answers marker="
            f"{delete.get('DeleteMarker')}, version {delete.get('VersionId')!r}; after: {describe(after_delete)}")


@probe("Delete markers: DELETE on Enabled, HEAD and DELETE of the marker by id")
def delete_markers(s3: Any) -> str:
    bucket = _bucket(s3, "Enabled")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="k")
    head = _head(s3, bucket, "k", marker["VersionId"])
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker["VersionId"])
    current_again = "object current again" if _exists(s3, bucket, "k") else "OBJECT GONE"
    bulk = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})["Deleted"][0]
    return (f"DELETE: marker={marker.get('DeleteMarker')}; HEAD of the marker: {head}; DELETE of the marker by id: "
            f"x-amz-delete-marker={removed.get('DeleteMarker')}, {current_again}; DeleteObjects: "
            f"DeleteMarker={bulk.get('DeleteMarker')}, "
            f"DeleteMarkerVersionId={'set' if bulk.get('DeleteMarkerVersionId') else 'absent'}")


@probe("ListObjectVersions paging (MaxKeys=7) while each page is deleted before the next is asked for")
def list_versions_while_deleting(s3: Any) -> str:
    bucket = _bucket(s3, "Enabled")
    for round_ in range(2):
        for index in range(20):
            s3.put_object(Bucket=bucket, Key=f"data/{index:03d}", Body=f"{round_}".encode())
    s3.delete_object(Bucket=bucket, Key="data/005")
    expected = set(_versions(s3, bucket))
    listed: list[tuple[str, str, bool]] = []
    arguments: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 7}
    for _ in range(100):
        page = s3.list_object_versions(**arguments)
        entries = [(entry["Key"], entry["VersionId"], False) for entry in page.get("Versions", [])]
        entries += [(entry["Key"], entry["VersionId"], True) for entry in page.get("DeleteMarkers", [])]
        listed += entries
        if entries:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": version}
                                                                 for key, version, _ in entries]})
        if not page.get("IsTruncated"):
            break
        arguments.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page.get("NextVersionIdMarker", ""))
    left = len(_versions(s3, bucket))
    return (f"{len(expected)} versions and markers: listed {len(listed)}, {len(expected - set(listed))} missed, "
            f"{len(listed) - len(set(listed))} duplicated; {left} left in the bucket")


@probe("SlowDown under a burst (16 threads x 40 DeleteObject, one attempt each)")
def slowdown(s3: Any) -> str:
    bucket = _bucket(s3)
    endpoint = s3.meta.endpoint_url
    single = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY_ID,
                          aws_secret_access_key=SECRET_ACCESS_KEY,
                          config=Config(retries={"total_max_attempts": 1}, max_pool_connections=32))
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def work(thread: int) -> None:
        for index in range(40):
            key = f"t{thread}/{index}"
            status = _status(lambda key=key: single.delete_object(Bucket=bucket, Key=key))
            with lock:
                outcomes[status] = outcomes.get(status, 0) + 1

    threads = [threading.Thread(target=work, args=(thread,)) for thread in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ", ".join(f"{count}x {status}" for status, count in sorted(outcomes.items()))


def s3_client(endpoint_url: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1", aws_access_key_id=ACCESS_KEY_ID,
                        aws_secret_access_key=SECRET_ACCESS_KEY, config=Config(retries={"mode": "standard"}))


@contextlib.contextmanager
def backend_s3(name: str) -> Iterator[str]:
    if name == "moto":
        with moto_server() as url:
            yield url
    else:
        from local.seaweedfs import seaweedfs_server

        with seaweedfs_server(project_python()) as url:
            yield url


def run(name: str) -> dict[str, str]:
    observations = {}
    with backend_s3(name) as url:
        s3 = s3_client(url)
        for title, function in PROBES:
            try:
                observations[title] = function(s3)
            except Exception as error:  # noqa: BLE001 - a probe that breaks is itself an observation
                observations[title] = f"probe failed: {type(error).__name__}: {error}"
    return observations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.s3_probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("moto", "seaweedfs"), action="append")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = {name: run(name) for name in args.backend or ("moto", "seaweedfs")}
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
        return 0
    names = list(results)
    print("| behaviour | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for title, _ in PROBES:
        print(f"| {title} | " + " | ".join(results[name][title] for name in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
