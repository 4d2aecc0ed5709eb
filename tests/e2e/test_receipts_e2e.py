"""Receipts and task events on the local stack: a purge over HTTP, its completion event received from
``GET /_local/events`` (the stack captures what the functions publish on the template's bus), and its receipt
downloaded through the pre-signed URLs the receipt route answers."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import urllib.request
from typing import Any

from tests.e2e.conftest import LocalStack
from tests.e2e.test_tasks_e2e import fill, poll, tenant

OBJECTS = 40


def wait_for_event(local_stack: LocalStack, task_id: str, state: str, *, limit_seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + limit_seconds
    while True:
        response = local_stack.request("GET", "/_local/events")
        assert response.status == 200, response.text
        for event in response.json()["events"]:
            if event["detail"]["task_id"] == task_id and event["detail"]["state"] == state:
                return dict(event)
        assert time.monotonic() < deadline, f"no {state} event of {task_id}: {response.json()}"
        time.sleep(0.5)


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - the stack's own pre-signed URL
        return bytes(answer.read())


def test_purge_publishes_its_completion_event_and_its_receipt_downloads(local_stack: LocalStack) -> None:
    api_key, s3_bucket = tenant(local_stack, "e2e-receipts", "ledger")
    fill(local_stack, s3_bucket, OBJECTS)

    started = local_stack.request("DELETE", "/storage/obj/ledger/purge", headers={"X-Api-Key": api_key})
    assert started.status == 200, started.text
    task_id = started.json()["task"]["id"]
    task = poll(local_stack, task_id, api_key)
    assert task["status"] == "COMPLETED", task

    event = wait_for_event(local_stack, task_id, "completed")
    assert (event["source"], event["detail-type"]) == ("eraser", "Eraser Task State Change")
    assert event["detail"]["counts"]["deleted"] == OBJECTS + 2  # and the two folder markers
    assert event["detail"]["receipt"]["url"] == f"/v1/tasks/{task_id}/receipt" == task["receipt_url"]
    assert wait_for_event(local_stack, task_id, "created")["detail"]["status"] == "pending"

    response = local_stack.request("GET", f"/v1/tasks/{task_id}/receipt", headers={"X-Api-Key": api_key})
    assert response.status == 200, response.text
    receipt = response.json()
    lines = []
    for part in receipt["parts"]:
        body = download(part["url"])
        assert hashlib.sha256(body).hexdigest() == part["sha256"]
        lines += [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert len(lines) == OBJECTS + 2 == receipt["summary"]["counts"]["lines"]
    assert {line["bucket"] for line in lines} == {s3_bucket}
    assert json.loads(download(receipt["summary_url"])) == receipt["summary"]
