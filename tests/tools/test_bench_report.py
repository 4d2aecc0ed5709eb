"""The bench's arithmetic: medians, the best peer, targets. Made-up numbers; no timing is measured here."""

from __future__ import annotations

from bench.contenders import ERASER, LIMIT, PEER
from bench.markdown import render
from bench.report import (
    Record,
    best_peer,
    per_run_wins,
    server_cpu_block,
    server_errors,
    summarize,
    table,
    verdicts,
)


def record(contender: str, role: str, seconds: float, run: int = 0, objects: int = 10_000, left: int | None = 0,
           **requests: int) -> Record:
    return Record(scenario="purge", contender=contender, role=role, run=run, objects=objects, seconds=seconds,
                  left=left, requests={key.replace("__", ":"): value for key, value in requests.items()},
                  deleted_keys_in_calls=1000 * requests.get("s3__DeleteObjects", 0))


def test_summary_takes_the_median_of_runs_and_the_ratio_to_the_best_peer() -> None:
    records = [record("s5cmd", PEER, seconds, run) for run, seconds in enumerate((5.0, 4.0, 100.0))]
    records += [record("eraser", ERASER, seconds, run) for run, seconds in enumerate((2.0, 2.5, 3.0))]
    summaries = {summary.contender: summary for summary in summarize(records)}
    assert summaries["s5cmd"].seconds == 5.0
    assert summaries["s5cmd"].rate == 2_000
    assert summaries["eraser"].ratio_to_best_peer == 2.0


def test_a_peer_that_leaves_objects_behind_is_not_the_bar() -> None:
    records = [record("fast but wrong", PEER, 1.0, left=5_000), record("s5cmd", PEER, 5.0),
               record("limit", LIMIT, 0.5)]
    best = best_peer(summarize(records), "purge")
    assert best is not None and best.contender == "s5cmd"


def test_purge_targets_compare_eraser_with_best_peer_and_aws_cli() -> None:
    records = [record("s5cmd", PEER, 5.0), record("aws s3 rm --recursive", PEER, 10.0, objects=2_000),
               record("eraser", ERASER, 4.0, s3__DeleteObjects=10, s3__ListObjectsV2=11, tasks__writes=12)]
    found = {verdict.target.split(": ", 1)[1]: verdict.met for verdict in verdicts(summarize(records), "purge",
                                                                                  "purge", 10_000)}
    assert found["Eraser >= best peer"] is True
    assert found["Eraser >= 10x aws s3 rm"] is True
    assert found["nothing left behind"] is True
    assert found[">= 990 keys per DeleteObjects call"] is True
    assert found["no single-key deletes"] is True
    assert found["list calls <= N/1000 + partitions"] is True
    assert found["task-progress writes <= 1 per batch"] is True


def test_missed_targets_say_so() -> None:
    records = [record("s5cmd", PEER, 2.0),
               record("eraser", ERASER, 4.0, left=3, s3__DeleteObjects=10, s3__DeleteObject=7, tasks__writes=500)]
    found = {verdict.target.split(": ", 1)[1]: verdict.met for verdict in verdicts(summarize(records), "purge",
                                                                                  "purge", 10_000)}
    assert found["Eraser >= best peer"] is False
    assert found["nothing left behind"] is False
    assert found["no single-key deletes"] is False
    assert found["task-progress writes <= 1 per batch"] is False


def test_bulk_target_is_a_share_of_the_delete_limit() -> None:
    records = [record("limit: DeleteObjects", LIMIT, 1.0), record("eraser", ERASER, 1.2, s3__DeleteObjects=10)]
    found = verdicts(summarize(records), "purge", "bulk-known-keys", 10_000)
    share = next(verdict for verdict in found if "DeleteObjects limit" in verdict.target)
    assert share.met is True


def test_an_unavailable_eraser_is_reported_not_failed() -> None:
    found = verdicts(summarize([record("s5cmd", PEER, 2.0)]), "purge", "purge", 10_000, unavailable="no engine")
    assert [verdict.met for verdict in found] == [None]
    assert "no engine" in found[0].detail


def test_per_run_wins_compare_within_each_run() -> None:
    records = [record("s5cmd", PEER, 5.0, 0), record("eraser", ERASER, 4.0, 0),
               record("s5cmd", PEER, 3.0, 1), record("eraser", ERASER, 4.0, 1)]
    assert per_run_wins(records, "purge") == (1, 2)


def test_server_errors_add_up_every_5xx_operation() -> None:
    assert server_errors({"s3:ListObjectVersions:500": 2, "s3:DeleteObjects:503": 1, "s3:DeleteObjects": 9}) == 3


def test_table_lists_skipped_contenders_with_their_reason() -> None:
    text = table(summarize([record("s5cmd", PEER, 2.0)]), "purge", [("aws s3 rm", "not installed")])
    assert "s5cmd" in text and "skipped: not installed" in text


def test_a_failed_eraser_run_misses_its_targets_and_still_shows_its_requests() -> None:
    failed = record("eraser", ERASER, 90.0, left=10_000, s3__ListObjectVersions=31, s3__DeleteObjects=10)
    failed.error = "task ended FAILED"
    summaries = summarize([record("s5cmd", PEER, 5.0), failed])
    eraser = next(summary for summary in summaries if summary.role == ERASER)
    assert eraser.seconds == 90.0 and eraser.rate is None and eraser.requests["s3:ListObjectVersions"] == 31
    found = {verdict.target.split(": ", 1)[1]: verdict.met for verdict in verdicts(summaries, "purge", "purge",
                                                                                  20_000)}
    assert found["nothing left behind"] is False
    assert found["every Eraser run finished"] is False
    assert "Eraser >= best peer" not in found


def test_summary_takes_the_median_server_cpu_of_each_operation_over_the_good_runs() -> None:
    runs = [{"s3:ListObjectsV2": 4.0, "s3:DeleteObjects": 1.0}, {"s3:ListObjectsV2": 5.0},
            {"s3:ListObjectsV2": 6.0, "s3:DeleteObjects": 3.0, "dynamodb:GetItem": 0.5}]
    records = [record("eraser", ERASER, 2.0, run) for run in range(3)]
    for one, server_cpu in zip(records, runs, strict=True):
        one.server_cpu = server_cpu
    failed = record("eraser", ERASER, 90.0, 3)
    failed.error, failed.server_cpu = "stalled", {"s3:ListObjectsV2": 100.0, "sqs:ReceiveMessage": 9.0}
    summary = summarize([*records, failed])[0]
    assert summary.server_cpu == {"s3:DeleteObjects": 1.0, "s3:ListObjectsV2": 5.0}
    assert summary.as_dict()["server_cpu"] == summary.server_cpu


def cpu_summaries() -> list:
    eraser = record("eraser (HTTP API, task + fan-out)", ERASER, 2.0)
    eraser.server_cpu = {"s3:ListObjectsV2": 4.0, "s3:DeleteObjects": 2.0, "dynamodb:TransactWriteItems": 1.0,
                         "dynamodb:GetItem": 0.5, "sqs:ReceiveMessage": 0.5, "sqs:SendMessageBatch": 0.5,
                         "dynamodb:UpdateItem": 1.0, "sqs:DeleteMessageBatch": 0.5}
    peer = record("s5cmd", PEER, 3.0)
    peer.server_cpu = {"s3:DeleteObjects": 1.5, "s3:ListObjectsV2": 0.5}
    return summarize([eraser, peer, record("no data", PEER, 3.0)])


def test_server_cpu_block_shows_the_total_and_the_heaviest_operations_with_their_share() -> None:
    lines = server_cpu_block(cpu_summaries(), "purge").splitlines()
    assert lines == [
        "server CPU while each contender ran (median, seconds):",
        "  eraser (HTTP API, task + fan-out): 10.00 s = s3:ListObjectsV2 4.00 (40%), s3:DeleteObjects 2.00 (20%), "
        "dynamodb:TransactWriteItems 1.00 (10%), dynamodb:UpdateItem 1.00 (10%), dynamodb:GetItem 0.50 (5%), "
        "sqs:DeleteMessageBatch 0.50 (5%), 2 others 1.00 (10%)",
        "  s5cmd: 2.00 s = s3:DeleteObjects 1.50 (75%), s3:ListObjectsV2 0.50 (25%)",
    ]


def test_server_cpu_block_shows_milliseconds_under_a_second() -> None:
    quick = record("s5cmd", PEER, 3.0)
    quick.server_cpu = {"s3:DeleteObjects": 0.012, "s3:ListObjectsV2": 0.036}
    assert server_cpu_block(summarize([quick]), "purge").splitlines()[1] == \
        "  s5cmd: 0.048 s = s3:ListObjectsV2 0.036 (75%), s3:DeleteObjects 0.012 (25%)"


def test_server_cpu_block_is_a_markdown_table_and_empty_without_data() -> None:
    text = server_cpu_block(cpu_summaries(), "purge", markdown=True)
    assert "| s5cmd | 2.00 | s3:DeleteObjects 1.50 (75%), s3:ListObjectsV2 0.50 (25%) |" in text.splitlines()
    assert "no data" not in text
    assert server_cpu_block(summarize([record("s5cmd", PEER, 3.0)]), "purge") == ""


def results_document(with_server_cpu: bool) -> dict:
    one = record("s5cmd", PEER, 2.0)
    if with_server_cpu:
        one.server_cpu = {"s3:DeleteObjects": 1.5, "s3:ListObjectsV2": 0.5}
    stored = dict(one.__dict__)
    if not with_server_cpu:
        del stored["server_cpu"]  # a results file written before the bench measured it
    return {"scenarios": [{"name": "purge", "description": "purge", "kind": "purge", "deleted_count": 10_000}],
            "records": [stored], "skipped": [], "verdicts": [], "notes": {}}


def test_markdown_renders_the_server_cpu_when_the_results_file_has_it() -> None:
    assert "| s5cmd | 2.00 | s3:DeleteObjects 1.50 (75%)" in render(results_document(True))
    old = render(results_document(False))
    assert "| s5cmd |" in old and "Server CPU" not in old


def test_list_calls_the_backend_failed_and_the_client_retried_are_not_the_listers() -> None:
    def list_verdict(**requests: int) -> tuple[bool | None, str]:
        records = [record("s5cmd", PEER, 5.0),
                   record("eraser", ERASER, 4.0, s3__DeleteObjects=10, tasks__writes=12, **requests)]
        found = [verdict for verdict in verdicts(summarize(records), "purge", "purge", 10_000)
                 if verdict.target.endswith("list calls <= N/1000 + partitions")]
        return found[0].met, found[0].detail

    # 10,000 objects and 16 partitions allow 27 list calls.
    assert list_verdict(s3__ListObjectVersions=30) == (False, "30 list calls (allowed 27)")
    assert list_verdict(s3__ListObjectVersions=30, s3__ListObjectVersions__500=8) == (
        True, "22 list calls (allowed 27), and 8 retries of calls the backend failed with a 5xx")
    assert list_verdict(s3__ListObjectVersions=30, s3__DeleteObjects__500=8)[0] is False
