"""Tasks through the fault proxy: every SQS send delivered twice, S3 answering SlowDown to some calls and to some keys
inside DeleteObjects, connections reset before and after S3 did the work. Each purge and bulk task still ends
COMPLETED with exact counts, leaves nothing of its selection, and touches nothing outside it (a sibling bucket, and
a sibling prefix that shares the selection's first letters)."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

import pytest

from local.fault_proxy import FaultPlan
from tests.reliability.backend_state import bucket_entries, fill, poll_task
from tests.reliability.conftest import SYNC_DELETE_LIMIT, Figures, ReliableStack, Tenant

SEED = 20261202
HOSTILE_AWS = FaultPlan(seed=SEED, duplicate_sqs_sends=1.0, slowdown_calls=0.05, slowdown_keys=0.02,
                        drop_connections=0.05, budget=150)
START_ATTEMPTS = 3


def start_task(reliable_stack: ReliableStack, method: str, path: str, tenant: Tenant, server_errors: list[int],
               body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Start a task as a careful client does under faults: one Idempotency-Key, retried on a 5xx."""
    headers = {**tenant.auth, "Idempotency-Key": secrets.token_hex(8)}
    for _ in range(START_ATTEMPTS):
        response = reliable_stack.stack.request(method, path, headers=headers, body=body)
        if response.status < 500:
            return response.status, response.json(), response.headers
        server_errors.append(response.status)
    raise AssertionError(f"{method} {path} answered {server_errors} {START_ATTEMPTS} times")


def run_with_faults(reliable_stack: ReliableStack, figures: Figures, scenario: str, method: str, path: str,
                    tenant: Tenant, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start the task with HOSTILE_AWS cued, poll it to its end, calm the proxy; the finished task. Figures go to
    the session's collector."""
    server_errors: list[int] = []
    reliable_stack.proxy.cue(HOSTILE_AWS)
    try:
        status, document, _ = start_task(reliable_stack, method, path, tenant, server_errors, body)
        assert status in (200, 202), document
        task_id = (document.get("task") or {}).get("id") or document.get("task_id") or \
            document["data"]["task"]["id"]
        task = poll_task(reliable_stack.stack, task_id, tenant.auth, server_errors=server_errors)
    finally:
        tally = reliable_stack.proxy.calm()
    faults = tally.as_dict()
    figures.runs.append({"scenario": scenario, "plan": asdict(HOSTILE_AWS), "status": task["status"],
                         "counts": task["counts"], "api_5xx_retried": len(server_errors),
                         "aws_requests": faults["requests"], "faults": faults["faults"],
                         "aws_requests_by_operation": faults["by_operation"]})
    figures.add("faults", fault_runs=1, faults_injected=faults["faults_total"], aws_requests=faults["requests"],
                api_5xx_under_faults=len(server_errors))
    # The faults happened: a run that injected none proves nothing.
    assert faults["faults"].get("duplicate_send", 0) > 0 and faults["faults_total"] > faults["faults"]["duplicate_send"]
    return task


def record_outcome(figures: Figures, *, exact: bool, wrongful: int, left: int) -> None:
    figures.add("faults", runs_with_exact_counts=int(exact), wrongful_deletions=wrongful, versions_left=left,
                faults_survived=int(exact and not wrongful and not left))


def test_unversioned_purge_through_duplicates_throttling_and_resets_is_exact(reliable_stack: ReliableStack,
                                                                             figures: Figures) -> None:
    stack = reliable_stack.stack
    tenant = reliable_stack.tenant("faults-purge", {"target": "plain", "sibling": "plain"})
    keys = [f"data/{number % 5}/{number:05d}.bin" for number in range(2_400)]
    fill(stack, tenant.buckets["target"], keys)
    fill(stack, tenant.buckets["sibling"], [f"data/{number:03d}.bin" for number in range(50)])
    sibling_before = bucket_entries(stack, tenant.buckets["sibling"])

    task = run_with_faults(reliable_stack, figures, "purge, 2,400 unversioned", "DELETE", "/storage/obj/target/purge",
                           tenant)

    left = len(bucket_entries(stack, tenant.buckets["target"]))
    wrongful = len(sibling_before - bucket_entries(stack, tenant.buckets["sibling"]))
    exact = task["counts"]["deleted"] == len(keys) and task["counts"]["failed"] == 0
    record_outcome(figures, exact=exact, wrongful=wrongful, left=left)
    assert (task["status"], left, wrongful) == ("COMPLETED", 0, 0), task
    assert task["counts"]["deleted"] == len(keys), task["counts"]
    assert task["counts"]["failed"] == 0, task


def test_versioned_purge_with_markers_and_null_versions_through_faults_is_exact(reliable_stack: ReliableStack,
                                                                               figures: Figures) -> None:
    stack = reliable_stack.stack
    s3 = stack.client("s3")
    tenant = reliable_stack.tenant("faults-versions", {"target": "plain", "sibling": "versioned"})
    target = tenant.buckets["target"]
    keys = [f"docs/{number % 4}/{number:04d}.txt" for number in range(500)]
    fill(stack, target, keys)  # written before versioning: every one is a `null` version
    s3.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
    fill(stack, target, keys[::2], b"second version")
    for key in keys[::5]:
        s3.delete_object(Bucket=target, Key=key)  # a delete marker on top
    entries = bucket_entries(stack, target)
    assert sum(1 for _, version, _, _ in entries if version == "null") == len(keys)
    fill(stack, tenant.buckets["sibling"], keys[:40])
    sibling_before = bucket_entries(stack, tenant.buckets["sibling"])

    task = run_with_faults(reliable_stack, figures, f"purge, {len(entries)} versions, markers and null versions",
                           "DELETE", "/storage/obj/target/purge", tenant)

    left = len(bucket_entries(stack, target))
    wrongful = len(sibling_before - bucket_entries(stack, tenant.buckets["sibling"]))
    exact = task["counts"]["deleted"] == len(entries) and task["counts"]["failed"] == 0
    record_outcome(figures, exact=exact, wrongful=wrongful, left=left)
    assert (task["status"], left, wrongful) == ("COMPLETED", 0, 0), task
    assert task["counts"]["deleted"] == len(entries), task["counts"]


def test_bulk_delete_task_through_faults_deletes_exactly_its_keys_and_folder(reliable_stack: ReliableStack,
                                                                             figures: Figures) -> None:
    stack = reliable_stack.stack
    tenant = reliable_stack.tenant("faults-bulk", {"files": "plain"})
    bucket = tenant.buckets["files"]
    folder = [f"data/{number % 3}/{number:04d}.bin" for number in range(3 * SYNC_DELETE_LIMIT)]
    loose = [f"loose/{number:03d}.txt" for number in range(60)]
    # Outside the selection: a prefix that starts like the folder ("data" means "data/"), and other loose keys.
    outside = [f"database/{number:03d}.bin" for number in range(40)] + [f"loose/{number:03d}.keep" for number in
                                                                         range(20)] + ["data"]
    fill(stack, bucket, folder + loose + outside)
    before = bucket_entries(stack, bucket)
    kept_before = {entry for entry in before if entry[0] in set(outside)}

    task = run_with_faults(reliable_stack, figures, f"bulk delete task, {len(folder)} in a folder + {len(loose)} keys",
                           "DELETE", "/v1/storage/objects?bucket=files", tenant,
                           body={"object_keys": loose, "path": ["data"]})

    after = bucket_entries(stack, bucket)
    left = len({entry for entry in after if entry[0] not in set(outside)})
    wrongful = len(kept_before - after)
    exact = task["counts"]["deleted"] == len(folder) + len(loose) and task["counts"]["failed"] == 0
    record_outcome(figures, exact=exact, wrongful=wrongful, left=left)
    assert (task["status"], left, wrongful) == ("COMPLETED", 0, 0), task
    assert task["counts"]["deleted"] == len(folder) + len(loose), task["counts"]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_fault_schedule_is_a_function_of_the_seed(seed: int) -> None:
    from local.fault_proxy import draw

    first = [draw(seed, "slowdown_call", "s3:DeleteObjects", ordinal) < 0.05 for ordinal in range(2_000)]
    again = [draw(seed, "slowdown_call", "s3:DeleteObjects", ordinal) < 0.05 for ordinal in range(2_000)]
    other = [draw(seed + 100, "slowdown_call", "s3:DeleteObjects", ordinal) < 0.05 for ordinal in range(2_000)]
    assert first == again and first != other
    assert 50 <= sum(first) <= 150  # about 5 %
