"""The boto3 contenders and the client of Eraser's bulk endpoint, run as their own process (`python -m bench.worker
MODE ...`) so that they do not share the in-process moto server's interpreter lock. Each prints one JSON line:
seconds (work only, after imports and client creation, as a script's user would time it), objects and errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

from bench.eraser_stack import http
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


def eraser_bulk(url: str, api_key: str, bucket: str, keys: list[str], request_keys: int,
                in_flight: int) -> tuple[int, int, list[str]]:
    """Eraser's bulk endpoint as a client uses it: ``request_keys`` keys a request, ``in_flight`` requests at a
    time. Returns keys the answers counted as deleted, keys in failed requests, and the failures (status: body)."""
    endpoint = f"{url}/v1/storage/objects?{urllib.parse.urlencode({'bucket': bucket})}"
    headers = {"X-Api-Key": api_key, "Accept": "application/json"}

    def send(batch: list[str]) -> tuple[int, str]:
        status, document, _ = http("DELETE", endpoint, headers, {"object_keys": batch, "path": []}, timeout=300)
        return status, document if isinstance(document, str) else json.dumps(document)

    batches = [keys[start:start + request_keys] for start in range(0, len(keys), request_keys)]
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        answers = list(pool.map(send, batches))
    failed = [(batch, status, text) for batch, (status, text) in zip(batches, answers, strict=True) if status >= 300]
    failed_keys = sum(len(batch) for batch, _, _ in failed)
    return len(keys) - failed_keys, failed_keys, [f"HTTP {status}: {text[:200]}" for _, status, text in failed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("mode", choices=["purge", "purge-partitioned", "purge-listed-first", "list", "delete-known",
                                         "eraser-bulk"])
    parser.add_argument("bucket")
    parser.add_argument("--versions", action="store_true", help="list and delete versions and delete markers")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--objects-file", help="JSON list of {Key[, VersionId]} for delete-known and eraser-bulk")
    parser.add_argument("--url", help="eraser-bulk: the local stack's URL")
    parser.add_argument("--request-keys", type=int, default=BATCH, help="eraser-bulk: keys per request")
    arguments = parser.parse_args(argv)

    known: list[dict[str, str]] = []
    if arguments.mode in ("delete-known", "eraser-bulk"):
        with open(arguments.objects_file, encoding="utf-8") as handle:
            known = json.load(handle)
    if arguments.mode == "eraser-bulk":
        # The API key comes through the environment, not the command line (which ps shows).
        api_key = os.environ["ERASER_BENCH_API_KEY"]
        started = time.perf_counter()
        done, failed, failures = eraser_bulk(arguments.url, api_key, arguments.bucket,
                                             [entry["Key"] for entry in known], arguments.request_keys,
                                             arguments.workers)
        json.dump({"seconds": time.perf_counter() - started, "objects": done, "errors": failed,
                   "failures": failures[:3]}, sys.stdout)
        sys.stdout.write("\n")
        return 0
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
