"""What the backend holds, to compare before and after a request: every version and delete marker of every bucket,
and how many items the tasks table has. Read straight from moto, never through the fault proxy."""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.e2e.conftest import HttpResponse, LocalStack

TERMINAL = ("COMPLETED", "FAILED", "CANCELED")
Entry = tuple[str, str, bool, str]  # key, version id, is a delete marker, ETag


def bucket_entries(stack: LocalStack, s3_bucket: str) -> frozenset[Entry]:
    entries: set[Entry] = set()
    for page in stack.client("s3").get_paginator("list_object_versions").paginate(Bucket=s3_bucket):
        entries.update((item["Key"], item["VersionId"], False, item["ETag"]) for item in page.get("Versions", []))
        entries.update((item["Key"], item["VersionId"], True, "") for item in page.get("DeleteMarkers", []))
    return frozenset(entries)


def tasks_count(stack: LocalStack) -> int:
    table = stack.tables["DeletionTasksTable"]
    paginator = stack.client("dynamodb").get_paginator("scan")
    return sum(page["Count"] for page in paginator.paginate(TableName=table, Select="COUNT"))


def snapshot(stack: LocalStack, buckets: Iterable[str] | None = None) -> dict[str, Any]:
    """Every entry of ``buckets`` (default: every tenant bucket on the backend) and the tasks table's item count.

    Eraser's own receipts bucket is left out: a synchronous request that deleted nothing still writes its audit
    record there (who asked, which keys, what S3 answered), which is the ledger doing its work, not a change to
    anybody's data. tests/unit/test_receipts.py checks what it writes."""
    ledger = stack.environment.get("RECEIPTS_BUCKET")
    names = list(buckets) if buckets is not None else [
        bucket["Name"] for bucket in stack.client("s3").list_buckets().get("Buckets", []) if bucket["Name"] != ledger]
    return {"buckets": {name: bucket_entries(stack, name) for name in names}, "tasks": tasks_count(stack)}


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs, in words (empty: nothing)."""
    found = []
    for name in sorted({*before["buckets"], *after["buckets"]}):
        old, new = before["buckets"].get(name), after["buckets"].get(name)
        if old is None or new is None:
            found.append(f"bucket {name} {'appeared' if old is None else 'disappeared'}")
        elif old != new:
            found.append(f"bucket {name}: {len(old - new)} entries gone, {len(new - old)} new "
                         f"(e.g. {sorted(old - new)[:3]})")
    if before["tasks"] != after["tasks"]:
        found.append(f"tasks table: {before['tasks']} -> {after['tasks']} items")
    return found


def fill(stack: LocalStack, s3_bucket: str, keys: Iterable[str], body: bytes = b"0123456789") -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: stack.client("s3").put_object(Bucket=s3_bucket, Key=key, Body=body), keys))


def poll_task(stack: LocalStack, task_id: str, headers: dict[str, str], *, limit_seconds: float = 240,
              server_errors: list[int] | None = None) -> dict[str, Any]:
    """The task once finished, in Mixpeek's form. 5xx answers (possible while faults are cued) are retried and
    appended to ``server_errors``."""
    deadline = time.monotonic() + limit_seconds
    while True:
        response: HttpResponse = stack.request("GET", f"/v1/tasks/{task_id}", headers=headers)
        if response.status >= 500 and server_errors is not None:
            server_errors.append(response.status)
        else:
            assert response.status == 200, response.text
            task: dict[str, Any] = response.json()
            if task["status"] in TERMINAL:
                return task
        assert time.monotonic() < deadline, f"task {task_id} unfinished after {limit_seconds} s: {response.text}"
        time.sleep(0.5)
