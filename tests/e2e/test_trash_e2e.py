"""Trash on the running local stack, over HTTP: objects deleted through the S3 endpoint land in trash, one is
restored, purge_all's task is polled at GET /tasks/{id} until completed, and the restored and live objects remain."""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote

from tests.e2e.conftest import LocalStack

POLL_DEADLINE_SECONDS = 120


def _trash_tenant(local_stack: LocalStack) -> tuple[dict[str, str], str, str]:
    """A fresh organization (the stack is shared), an all-scopes key and a trash-enabled bucket."""
    sub_domain = f"trash-e2e-{secrets.token_hex(3)}"
    organization = local_stack.admin("create-org", "--sub-domain", sub_domain, "--account-id", "123456789012")
    key = local_stack.admin("issue-key", "--org", organization["id"])["api_key"]
    bucket = local_stack.admin("register-bucket", "--org", organization["id"], "--name", "bin", "--create",
                               "--trash")
    return {"X-Api-Key": key}, organization["id"], bucket["s3_bucket"]


def test_trash_restore_and_purge_all_over_http(local_stack: LocalStack) -> None:
    auth, organization_id, s3_bucket = _trash_tenant(local_stack)
    s3 = local_stack.client("s3")
    for key in ("live.txt", "docs/trashed.txt", "docs/restored.txt"):
        local_stack.put(key, f"content of {key}", s3_bucket=s3_bucket)
    for key in ("docs/trashed.txt", "docs/restored.txt"):
        response = local_stack.request("DELETE", f"/s3/bin/{quote(key)}", headers=auth)
        assert response.status == 204, response.text
        assert response.header("x-amz-delete-marker") == "true"

    listed = local_stack.request("GET", "/v1/trash?bucket=bin", headers=auth)
    assert listed.status == 200, listed.text
    assert sorted(entry["key"] for entry in listed.json()["results"]) == ["docs/restored.txt", "docs/trashed.txt"]

    restored = local_stack.request("POST", "/v1/trash/restore", headers=auth,
                                   body={"bucket": "bin", "keys": ["docs/restored.txt", "live.txt"]})
    assert restored.status == 200, restored.text
    assert [item["key"] for item in restored.json()["restored"]] == ["docs/restored.txt"]
    assert [(item["key"], item["code"]) for item in restored.json()["errors"]] == [("live.txt", "not_in_trash")]

    # S3 reports LastModified in whole seconds and the purge's cutoff is the second before its creation.
    time.sleep(1.1)
    started = local_stack.request("POST", "/organizations/organization/trash_objects/purge_all", headers=auth,
                                  body={"organization": {"id": organization_id}})
    assert started.status == 200, started.text
    task = started.json()["task"]
    assert task["status"] in ("pending", "running")

    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    while task["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"task still {task['status']} after {POLL_DEADLINE_SECONDS} s"
        time.sleep(0.5)
        polled = local_stack.request("GET", f"/tasks/{task['id']}", headers=auth)
        assert polled.status == 200, polled.text
        task = polled.json()["task"]

    assert (task["status"], task["progress"]) == ("completed", 100)
    versions = s3.list_object_versions(Bucket=s3_bucket)
    assert sorted(item["Key"] for item in versions.get("Versions", [])) == ["docs/restored.txt", "live.txt"]
    assert versions.get("DeleteMarkers", []) == []
    body = s3.get_object(Bucket=s3_bucket, Key="docs/restored.txt")["Body"].read()
    assert body == b"content of docs/restored.txt"
    assert local_stack.request("GET", "/v1/trash?bucket=bin", headers=auth).json()["results"] == []
