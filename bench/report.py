"""Medians, ratios, targets and the table. Pure functions over the run records, so they are unit-tested."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.contenders import ERASER, LIMIT, PEER

# Targets from the benchmarks issue.
PURGE_VS_BEST_PEER = 1.0
PURGE_VS_AWS_CLI = 10.0
BULK_VS_DELETE_LIMIT = 0.8
KEYS_PER_DELETE_CALL = 990
WORKER_MEMORY_MB = 128
AWS_CLI = "aws s3 rm --recursive"
TASK_LIFECYCLE_WRITES = 8


@dataclass
class Record:
    """One contender's run on one freshly populated bucket."""

    scenario: str
    contender: str
    role: str
    run: int
    objects: int
    seconds: float
    left: int | None
    wrongly_deleted: int = 0
    listed: int | None = None
    error: str | None = None
    requests: dict[str, int] = field(default_factory=dict)
    deleted_keys_in_calls: int = 0
    # CPU seconds the backend's server threads spent by "service:Operation", over every bucket, table and queue:
    # everything the server did while this contender ran (for Eraser, its DynamoDB and SQS bookkeeping too).
    server_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.objects / self.seconds if self.seconds > 0 and not self.error else 0.0


@dataclass
class Summary:
    scenario: str
    contender: str
    role: str
    objects: int
    runs: int
    seconds: float | None
    rate: float | None
    ratio_to_best_peer: float | None
    left: int | None
    wrongly_deleted: int
    errors: list[str]
    requests: dict[str, float]
    keys_per_delete_call: float | None
    note: str = ""
    failed_runs: int = 0
    # The median of the runs' server CPU seconds, operation by operation.
    server_cpu: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _median_requests(records: list[Record]) -> dict[str, float]:
    operations = sorted({operation for record in records for operation in record.requests})
    return {operation: float(statistics.median(record.requests.get(operation, 0) for record in records))
            for operation in operations}


def _median_server_cpu(records: list[Record]) -> dict[str, float]:
    """Each operation's median over the runs (a run without it counts as 0); operations whose median is 0 are left
    out."""
    operations = sorted({operation for record in records for operation in record.server_cpu})
    medians = {operation: float(statistics.median(record.server_cpu.get(operation, 0.0) for record in records))
               for operation in operations}
    return {operation: seconds for operation, seconds in medians.items() if seconds > 0}


def summarize(records: list[Record], notes: dict[tuple[str, str], str] | None = None) -> list[Summary]:
    """One line per (scenario, contender), in first-seen order; ratios against the best peer's median rate."""
    notes = notes or {}
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        groups.setdefault((record.scenario, record.contender), []).append(record)
    summaries: list[Summary] = []
    for (scenario, contender), group in groups.items():
        good = [record for record in group if not record.error]
        # When every run failed, its time and requests still tell where the time went.
        shown = good or group
        lefts = [record.left for record in group if record.left is not None]
        delete_calls = sum(record.requests.get("s3:DeleteObjects", 0) for record in shown)
        summaries.append(Summary(
            scenario=scenario, contender=contender, role=group[0].role, objects=group[0].objects, runs=len(good),
            seconds=median([record.seconds for record in shown]),
            rate=median([record.rate for record in good]),
            ratio_to_best_peer=None,
            left=max(lefts) if lefts else None,
            wrongly_deleted=max(record.wrongly_deleted for record in group),
            errors=sorted({record.error for record in group if record.error}),
            requests=_median_requests(shown),
            keys_per_delete_call=(sum(record.deleted_keys_in_calls for record in shown) / delete_calls
                                  if delete_calls else None),
            note=notes.get((scenario, contender), ""),
            failed_runs=len(group) - len(good),
            server_cpu=_median_server_cpu(shown),
        ))
    for scenario in {summary.scenario for summary in summaries}:
        best = best_peer(summaries, scenario)
        for summary in summaries:
            if summary.scenario == scenario and best and best.rate and summary.rate is not None:
                summary.ratio_to_best_peer = summary.rate / best.rate
    return summaries


def best_peer(summaries: list[Summary], scenario: str) -> Summary | None:
    """The fastest peer that removed everything it should have (a tool that leaves objects behind is not a bar)."""
    peers = [summary for summary in summaries if summary.scenario == scenario and summary.role == PEER
             and summary.rate and not summary.left and not summary.errors]
    return max(peers, key=lambda summary: summary.rate or 0.0, default=None)


def per_run_wins(records: list[Record], scenario: str) -> tuple[int, int]:
    """In how many runs Eraser was at least as fast as that run's best peer (peers interleave with it)."""
    runs = sorted({record.run for record in records if record.scenario == scenario})
    wins = compared = 0
    for run in runs:
        these = [record for record in records if record.scenario == scenario and record.run == run]
        eraser = [record.rate for record in these if record.role == ERASER and not record.error and not record.left]
        peers = [record.rate for record in these if record.role == PEER and not record.error and not record.left]
        if eraser and peers:
            compared += 1
            wins += eraser[0] >= max(peers)
    return wins, compared


@dataclass
class Verdict:
    target: str
    met: bool | None  # None: could not be measured in this run
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _eraser(summaries: list[Summary], scenario: str) -> Summary | None:
    return next((s for s in summaries if s.scenario == scenario and s.role == ERASER), None)


def verdicts(summaries: list[Summary], scenario: str, kind: str, objects_expected: int,
             unavailable: str | None = None) -> list[Verdict]:
    eraser = _eraser(summaries, scenario)
    found: list[Verdict] = []
    if eraser is None:
        return [Verdict(f"{scenario}: Eraser measured", None, f"Eraser contender unavailable: {unavailable or 'not run'}")]
    found.append(Verdict(f"{scenario}: nothing left behind", eraser.left == 0 and not eraser.wrongly_deleted,
                         f"{eraser.left} objects left, {eraser.wrongly_deleted} deleted that should have stayed"))
    if eraser.failed_runs:
        found.append(Verdict(f"{scenario}: every Eraser run finished", False,
                             f"failed in {eraser.failed_runs} of {eraser.runs + eraser.failed_runs} runs: "
                             f"{'; '.join(eraser.errors)[:200]}"))
    if not eraser.rate:
        return found + request_verdicts(eraser, scenario, objects_expected)
    if kind in {"purge", "purge-versioned"}:
        best = best_peer(summaries, scenario)
        if best and best.rate:
            found.append(Verdict(f"{scenario}: Eraser >= best peer", eraser.rate >= PURGE_VS_BEST_PEER * best.rate,
                                 f"{eraser.rate:,.0f}/s vs {best.contender} {best.rate:,.0f}/s "
                                 f"(x{eraser.rate / best.rate:.2f})"))
        aws = next((s for s in summaries if s.scenario == scenario and s.contender == AWS_CLI and s.rate), None)
        if aws and aws.rate:
            found.append(Verdict(f"{scenario}: Eraser >= 10x aws s3 rm", eraser.rate >= PURGE_VS_AWS_CLI * aws.rate,
                                 f"x{eraser.rate / aws.rate:.1f} ({aws.rate:,.0f}/s on {aws.objects:,} objects)"))
    else:
        # Every contender here deletes keys it was handed, so the fastest of them is the backend's limit.
        limit = max((s for s in summaries if s.scenario == scenario and s.role in {LIMIT, PEER} and s.rate
                     and not s.left and not s.errors), key=lambda s: s.rate or 0.0, default=None)
        if limit and limit.rate:
            found.append(Verdict(f"{scenario}: Eraser >= 0.8 x DeleteObjects limit",
                                 eraser.rate >= BULK_VS_DELETE_LIMIT * limit.rate,
                                 f"{eraser.rate:,.0f}/s vs {limit.contender} {limit.rate:,.0f}/s "
                                 f"(x{eraser.rate / limit.rate:.2f})"))
    found += request_verdicts(eraser, scenario, objects_expected)
    return found


def request_verdicts(eraser: Summary, scenario: str, objects_expected: int, partitions: int = 16) -> list[Verdict]:
    requests = eraser.requests
    calls = requests.get("s3:DeleteObjects", 0)
    fewest_calls = max(1, -(-objects_expected // 1000))
    found = [Verdict(f"{scenario}: >= {KEYS_PER_DELETE_CALL} keys per DeleteObjects call",
                     0 < calls <= fewest_calls or (eraser.keys_per_delete_call or 0) >= KEYS_PER_DELETE_CALL,
                     f"{calls:.0f} calls for {objects_expected:,} objects, "
                     f"{eraser.keys_per_delete_call or 0:.0f} keys per call"),
             Verdict(f"{scenario}: no single-key deletes", requests.get("s3:DeleteObject", 0) == 0,
                     f"{requests.get('s3:DeleteObject', 0):.0f} DeleteObject calls")]
    list_operations = ("s3:ListObjectsV2", "s3:ListObjectVersions", "s3:ListObjects")
    lists = sum(requests.get(name, 0) for name in list_operations)
    # A call the backend failed with a 5xx is retried by the client: the retry is the backend's, not the lister's.
    retried = server_errors({name: count for name, count in requests.items()
                             if name.rsplit(":", 1)[0] in list_operations})
    allowed = -(-objects_expected // 1000) + partitions + 1
    found.append(Verdict(f"{scenario}: list calls <= N/1000 + partitions", lists - retried <= allowed,
                         f"{lists - retried:.0f} list calls (allowed {allowed})"
                         + (f", and {retried:.0f} retries of calls the backend failed with a 5xx" if retried else "")))
    progress = requests.get("tasks:writes", 0)
    batches = max(1, -(-objects_expected // 1000))
    # Creating, starting and finishing the task (and the bulk endpoint's task, if it makes one) are writes too.
    allowed = batches + TASK_LIFECYCLE_WRITES
    found.append(Verdict(f"{scenario}: task-progress writes <= 1 per batch", progress <= allowed,
                         f"{progress:.0f} writes to the tasks table for {batches} batches "
                         f"(allowed {allowed}: one per batch + {TASK_LIFECYCLE_WRITES} for the task's lifecycle)"))
    return found


def server_errors(requests: dict[str, float]) -> float:
    """Requests the backend answered with a 5xx (and the client retried)."""
    return sum(count for operation, count in requests.items() if operation.rsplit(":", 1)[-1].startswith("5"))


def _number(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"


def table(summaries: list[Summary], scenario: str, skipped: list[tuple[str, str]] | None = None,
          markdown: bool = False) -> str:
    headers = ["contender", "objects", "seconds", "objects/s", "vs best peer", "left", "DeleteObjects",
               "keys/call", "DeleteObject", "lists", "5xx", "note"]
    rows = []
    for summary in (s for s in summaries if s.scenario == scenario):
        requests = summary.requests
        lists = sum(requests.get(f"s3:{name}", 0) for name in ("ListObjectsV2", "ListObjectVersions", "ListObjects"))
        note = summary.note or (f"FAILED in {summary.failed_runs} of {summary.runs + summary.failed_runs} runs: "
                                if summary.failed_runs else "") + "; ".join(summary.errors)[:80]
        if summary.role == LIMIT and summary.left is None:
            note = note or "lists only, deletes nothing"
        rows.append([summary.contender, f"{summary.objects:,}", _number(summary.seconds, 2),
                     _number(summary.rate), _number(summary.ratio_to_best_peer, 2, "x"),
                     "-" if summary.left is None else f"{summary.left:,}",
                     _number(requests.get("s3:DeleteObjects")) if requests else "-",
                     _number(summary.keys_per_delete_call), _number(requests.get("s3:DeleteObject")) if requests else "-",
                     _number(lists) if requests else "-", _number(server_errors(requests)) if requests else "-",
                     note])
    for contender, reason in skipped or []:
        rows.append([contender, *["-"] * (len(headers) - 2), f"skipped: {reason}"[:100]])
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(str(cell).replace("|", "/") for cell in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [" | ".join(str(cell).ljust(width) for cell, width in zip(headers, widths, strict=True)),
             "-|-".join("-" * width for width in widths)]
    lines += [" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def verdict_lines(found: list[Verdict]) -> str:
    marks = {True: "MET   ", False: "MISSED", None: "N/A   "}
    return "\n".join(f"  {marks[verdict.met]} {verdict.target}: {verdict.detail}" for verdict in found)


SERVER_CPU_TITLE = "server CPU while each contender ran (median, seconds)"


def _server_cpu_breakdown(server_cpu: dict[str, float], top: int) -> tuple[str, str]:
    """The total (the sum of the operations' medians) and the heaviest operations with their share of it, in
    milliseconds' precision when the total is under a second (smoke runs)."""
    total = sum(server_cpu.values())
    digits = 2 if total >= 1 else 3
    ranked = sorted(server_cpu.items(), key=lambda item: (-item[1], item[0]))
    parts = [f"{operation} {seconds:.{digits}f} ({seconds / total:.0%})" for operation, seconds in ranked[:top]]
    rest = ranked[top:]
    if rest:
        seconds = sum(value for _, value in rest)
        parts.append(f"{len(rest)} others {seconds:.{digits}f} ({seconds / total:.0%})")
    return f"{total:.{digits}f}", ", ".join(parts)


def server_cpu_block(summaries: list[Summary], scenario: str, top: int = 6, markdown: bool = False) -> str:
    """Where the backend's CPU went while each contender ran; empty when no contender has the data (older results
    files). Plain text for the console, a table for docs/performance.md."""
    shown = [summary for summary in summaries if summary.scenario == scenario
             and sum(summary.server_cpu.values()) > 0]
    if not shown:
        return ""
    if markdown:
        lines = [f"{SERVER_CPU_TITLE[:1].upper()}{SERVER_CPU_TITLE[1:]}:\n",
                 "| contender | server CPU s | heaviest operations (s, share) |", "|---|---|---|"]
        for summary in shown:
            total, breakdown = _server_cpu_breakdown(summary.server_cpu, top)
            lines.append(f"| {summary.contender.replace('|', '/')} | {total} | {breakdown} |")
        return "\n".join(lines)
    lines = [f"{SERVER_CPU_TITLE}:"]
    for summary in shown:
        total, breakdown = _server_cpu_breakdown(summary.server_cpu, top)
        lines.append(f"  {summary.contender}: {total} s = {breakdown}")
    return "\n".join(lines)
