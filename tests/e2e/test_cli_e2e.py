"""The ``eraser`` command against the local stack: rm, purge --wait and task show over the real API, and the store
afterwards. The command runs as its own process with no terminal, so every destructive call says --yes."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from tests.e2e.conftest import PROJECT_PYTHON, ROOT, LocalStack
from tests.e2e.test_tasks_e2e import all_versions, tenant

COMMAND_TIMEOUT_SECONDS = 300


def eraser(*argv: str, environment: dict[str, str], secret: str) -> tuple[int, Any, str]:
    kept = {name: value for name, value in os.environ.items() if not name.startswith("ERASER_")}
    completed = subprocess.run([str(PROJECT_PYTHON), "-m", "eraser_cli", "--json", *argv], cwd=ROOT,  # noqa: S603
                               env={**kept, "ERASER_CONFIG": os.devnull + ".absent", **environment},
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=COMMAND_TIMEOUT_SECONDS, check=False)
    assert secret not in completed.stdout and secret not in completed.stderr
    return completed.returncode, json.loads(completed.stdout), completed.stderr


def test_rm_with_local_deletes_the_named_keys_and_folder_and_nothing_else(local_stack: LocalStack) -> None:
    for key in ("cli-e2e/a.txt", "cli-e2e/logs/1.log", "cli-e2e/logs/2.log", "cli-e2e/logs-kept.txt",
                "cli-e2e/keep.txt"):
        local_stack.put(key)
    local_state = {"ERASER_LOCAL_STATE": str(local_stack.log_path.parent / "local.json")}

    code, document, _ = eraser("--local", "rm", local_stack.bucket, "cli-e2e/a.txt", "--path", "cli-e2e/logs",
                               "--yes", environment=local_state, secret=local_stack.api_key)

    assert code == 0, document
    assert document["outcome"] == "done"
    assert sorted(document["deleted_objects"]) == ["cli-e2e/a.txt", "cli-e2e/logs/1.log", "cli-e2e/logs/2.log"]
    assert not local_stack.exists("cli-e2e/a.txt") and not local_stack.exists("cli-e2e/logs/1.log")
    assert local_stack.exists("cli-e2e/keep.txt") and local_stack.exists("cli-e2e/logs-kept.txt")


def test_purge_wait_empties_the_bucket_keeps_it_and_task_show_reports_the_counts(local_stack: LocalStack) -> None:
    api_key, s3_bucket = tenant(local_stack, "cli-e2e-purge", "scratch")
    for number in range(40):
        local_stack.put(f"data/{number:03d}.bin", b"0123456789", s3_bucket)
    local_stack.put("cli-e2e/other-tenant.txt")
    credentials = {"ERASER_URL": local_stack.base_url, "ERASER_API_KEY": api_key}

    code, document, _ = eraser("purge", "scratch", "--yes", "--wait", environment=credentials, secret=api_key)

    assert code == 0, document
    assert document["outcome"] == "done" and document["task"]["status"] == "COMPLETED"
    assert all_versions(local_stack, s3_bucket) == 0
    local_stack.client("s3").head_bucket(Bucket=s3_bucket)
    assert local_stack.exists("cli-e2e/other-tenant.txt")

    code, shown, _ = eraser("task", "show", document["task_id"], environment=credentials, secret=api_key)

    assert code == 0, shown
    assert shown["task"]["status"] == "COMPLETED"
    assert shown["task"]["counts"]["deleted"] == 40
    assert shown["task"]["counts"]["failed"] == 0


def test_dry_run_then_purge_then_receipt_over_the_real_api(local_stack: LocalStack, tmp_path: Any) -> None:
    api_key, s3_bucket = tenant(local_stack, "cli-e2e-receipt", "ledger")
    for number in range(25):
        local_stack.put(f"rows/{number:03d}.csv", b"a,b,c\n", s3_bucket)
    credentials = {"ERASER_URL": local_stack.base_url, "ERASER_API_KEY": api_key}

    code, preview, _ = eraser("purge", "ledger", "--dry-run", environment=credentials, secret=api_key)

    assert code == 0, preview
    assert preview["plan"]["outcomes"] == {"deleted": 25}
    assert all_versions(local_stack, s3_bucket) == 25

    code, purged, _ = eraser("purge", "ledger", "--yes", "--wait", environment=credentials, secret=api_key)
    assert code == 0, purged
    code, receipt, _ = eraser("task", "receipt", purged["task_id"], "--download", str(tmp_path),
                              environment=credentials, secret=api_key)

    assert code == 0, receipt
    assert receipt["lines"] == 25 and receipt["counts"] == {"deleted": 25}
    assert sum(1 for _ in tmp_path.iterdir()) == len(receipt["parts"]) >= 1
    assert all_versions(local_stack, s3_bucket) == 0


def test_a_wrong_key_is_exit_5_and_an_unknown_task_is_exit_1(local_stack: LocalStack) -> None:
    wrong = {"ERASER_URL": local_stack.base_url, "ERASER_API_KEY": "erk_not_a_key_of_anyone_0123456789"}
    code, document, _ = eraser("task", "show", "00000000-0000-0000-0000-000000000000", environment=wrong,
                               secret=wrong["ERASER_API_KEY"])
    assert code == 5, document

    right = {"ERASER_URL": local_stack.base_url, "ERASER_API_KEY": local_stack.api_key}
    code, document, _ = eraser("task", "show", "00000000-0000-0000-0000-000000000000", environment=right,
                               secret=local_stack.api_key)
    assert code == 1, document
    assert document["error"]["status"] == 404
