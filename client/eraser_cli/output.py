"""What a command prints: a human table on stdout, or with ``--json`` one JSON document with stable field names."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(header) for header in headers], *[["" if cell is None else str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def task_summary(task: dict[str, Any]) -> str:
    counts = task.get("counts") or {}
    progress = task.get("progress") or {}
    rows = [
        ("task", task.get("task_id")),
        ("type", task.get("task_type")),
        ("bucket", ", ".join(str(target.get("bucket_name")) for target in task.get("targets") or [])
         or task.get("bucket_name")),
        ("status", task.get("status")),
        ("deleted", f"{counts.get('deleted', progress.get('objects_deleted', 0)):,}"),
        ("failed", f"{counts.get('failed', progress.get('objects_failed', 0)):,}"),
        ("versions listed", f"{counts.get('versions_listed', progress.get('versions_listed', 0)):,}"),
        ("bytes freed", f"{counts.get('bytes_freed', progress.get('bytes_freed', 0)):,}"),
        ("bucket empty at end", task.get("bucket_empty_at_end")),
        ("error", task.get("error_message")),
    ]
    text = table([row for row in rows if row[1] is not None], ("field", "value"))
    failures = task.get("failures") or []
    if failures:
        text += "\n\nkeys not deleted (sample):\n" + table(
            [(item.get("key"), item.get("version_id"), item.get("code"), item.get("message")) for item in failures],
            ("key", "version", "code", "message"))
    return text


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _label(name: str) -> str:
    return name.replace("_", " ")


def plan_summary(plan: dict[str, Any]) -> str:
    """A dry run's plan (docs/dry-run.md): what would be deleted, what would be left and why, the would-be outcome
    counts, and the sample. Sections show every field the server sent, so a field it adds later still shows."""
    would_delete = plan.get("would_delete") or {}
    sections = [table([(_label(name), _count(value)) for name, value in would_delete.items()],
                      ("would delete", "count"))]
    # Only what would actually be left: a zero reason, or a bucket that would go, is not something left.
    left = [(_label(name), "yes" if value is True else _count(value))
            for name, value in (plan.get("would_leave") or {}).items() if value]
    sections.append(table(left, ("would leave", "count")) if left else "would leave: nothing")
    outcomes = plan.get("outcomes") or {}
    if outcomes:
        sections.append(table([(name, _count(value)) for name, value in outcomes.items()], ("outcome", "count")))
    sample = plan.get("sample") or []
    if sample:
        sections.append(f"sample ({len(sample)} key{'s' if len(sample) != 1 else ''}):\n" + table(
            [(item.get("key"), item.get("version_id"), item.get("outcome"), item.get("reason")) for item in sample],
            ("key", "version", "outcome", "reason")))
    if plan.get("complete") is False:
        sections.append("the plan is incomplete: the counts are lower bounds")
    return "\n\n".join(sections)


def receipt_summary(task_id: str, parts: int, lines: int, counts: dict[str, int]) -> str:
    head = f"Receipt of task {task_id}: {parts} part{'s' if parts != 1 else ''} verified (SHA-256), {lines:,} lines."
    if not counts:
        return head
    return head + "\n\n" + table([(name, _count(value)) for name, value in counts.items()], ("outcome", "count"))


def emit(document: dict[str, Any], human: str, *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    elif human:
        sys.stdout.write(human.rstrip("\n") + "\n")
    sys.stdout.flush()


def note(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
