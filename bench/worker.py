"""The boto3 contenders, run as their own process (`python -m bench.worker MODE ...`) so that they do not share the
in-process moto server's interpreter lock. Each prints one JSON line: seconds (work only, after imports and client
creation, as a script's user would time it), objects and errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

from bench.scenarios import PARTITIONS

BATCH = 1000  # DeleteObjects takes at most 1000 keys per call


def client(workers: int) -> Any:
    config = Config(retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=max(10, workers * 2))
    return boto3.client("s3", config=config)


def listed_batches(s3: Any, bucket: str, *, versions: bool, prefix: str = "") -> Iterator[list[dict[str, str]]]:
    """One batch of objects to delete per listing page (a page holds at most 1000 entries)."""
    if versions:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
            yield [{"Key": entry["Key"], "VersionId": entry["VersionId"]} for entry in entries]
    else:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            yield [{"Key": entry["Key"]} for entry in page.get("Contents", [])]


def delete_batch(s3: Any, bucket: str, objects: list[dict[str, str]]) -> tuple[int, int]:
    if not objects:
        return 0, 0
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    errors = len(answer.get("Errors", []))
    return len(objects) - errors, errors


def purge(s3: Any, bucket: str, versions: bool, prefix: str = "") -> tuple[int, int]:
    deleted = errors = 0
    for objects in listed_batches(s3, bucket, versions=versions, prefix=prefix):
        done, failed = delete_batch(s3, bucket, objects)
        deleted, errors = deleted + done, errors + failed
    return deleted, errors


def purge_partitioned(s3: Any, bucket: str, versions: bool) -> tuple[int, int]:
    with ThreadPoolExecutor(max_workers=len(PARTITIONS)) as pool:
        results = list(pool.map(lambda prefix: purge(s3, bucket, versions, prefix), PARTITIONS))
    return sum(done for done, _ in results), sum(failed for _, failed in results)


def purge_listed_first(s3: Any, bucket: str, versions: bool) -> tuple[int, int]:
    """List everything, then delete: slower to start, but no page is listed after the previous one's versions are
    gone (moto loses its place in ListObjectVersions when the version its marker names has been deleted)."""
    batches = [objects for objects in listed_batches(s3, bucket, versions=versions) if objects]
    deleted = errors = 0
    for objects in batches:
        done, failed = delete_batch(s3, bucket, objects)
        deleted, errors = deleted + done, errors + failed
    return deleted, errors


def list_only(s3: Any, bucket: str, versions: bool) -> tuple[int, int]:
    return sum(len(objects) for objects in listed_batches(s3, bucket, versions=versions)), 0


def delete_known(s3: Any, bucket: str, objects: list[dict[str, str]], workers: int) -> tuple[int, int]:
    batches = [objects[start:start + BATCH] for start in range(0, len(objects), BATCH)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda batch: delete_batch(s3, bucket, batch), batches))
    return sum(done for done, _ in results), sum(failed for _, failed in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("mode", choices=["purge", "purge-partitioned", "purge-listed-first", "list", "delete-known"])
    parser.add_argument("bucket")
    parser.add_argument("--versions", action="store_true", help="list and delete versions and delete markers")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--objects-file", help="JSON list of {Key[, VersionId]} for delete-known")
    arguments = parser.parse_args(argv)

    known: list[dict[str, str]] = []
    if arguments.mode == "delete-known":
        with open(arguments.objects_file, encoding="utf-8") as handle:
            known = json.load(handle)
    s3 = client(len(PARTITIONS) if arguments.mode == "purge-partitioned" else arguments.workers)
    started = time.perf_counter()
    if arguments.mode == "purge":
        done, failed = purge(s3, arguments.bucket, arguments.versions)
    elif arguments.mode == "purge-partitioned":
        done, failed = purge_partitioned(s3, arguments.bucket, arguments.versions)
    elif arguments.mode == "purge-listed-first":
        done, failed = purge_listed_first(s3, arguments.bucket, arguments.versions)
    elif arguments.mode == "list":
        done, failed = list_only(s3, arguments.bucket, arguments.versions)
    else:
        done, failed = delete_known(s3, arguments.bucket, known, arguments.workers)
    seconds = time.perf_counter() - started
    json.dump({"seconds": seconds, "objects": done, "errors": failed}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
