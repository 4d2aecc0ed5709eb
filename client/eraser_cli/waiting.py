"""Waiting for a task: poll ``GET /v1/tasks/{id}`` as the server asks (``Retry-After``, else 1 s doubling to 30 s)
and draw one progress line on a terminal. Ctrl+C stops the waiting, never the task."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from eraser_cli.api import ApiError, Eraser

TERMINAL_STATUSES = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED"}
BACKOFF_START_SECONDS = 1
BACKOFF_MAX_SECONDS = 30
BAR_WIDTH = 24
# A throttled poll (429, or 503 SlowDown) is asked again after the Retry-After it names, this many times in a row.
THROTTLED_POLLS_MAX = 10

sleep = time.sleep  # tests replace it to record how long the client waited without waiting


@dataclass(frozen=True)
class Outcome:
    """A task as the command reports it: ``state`` is done, partial, failed, cancelled or running."""

    state: str
    task: dict[str, Any]


def outcome_of(task: dict[str, Any]) -> Outcome:
    status = task.get("status")
    if status not in TERMINAL_STATUSES:
        return Outcome("running", task)
    if status == "COMPLETED":
        return Outcome("done", task)
    if status == "CANCELED":
        return Outcome("cancelled", task)
    failed = (task.get("counts") or {}).get("failed") or 0
    # FAILED with keys S3 refused is a finished task that left those keys; FAILED without is a task that broke.
    return Outcome("partial" if failed or status == "COMPLETED_WITH_ERRORS" else "failed", task)


def progress_line(task: dict[str, Any]) -> str:
    progress = task.get("progress") or {}
    deleted = int(progress.get("objects_deleted") or 0)
    failed = int(progress.get("objects_failed") or 0)
    listed = int(progress.get("versions_listed") or 0)
    fraction = float(progress.get("fraction") or 0.0)
    filled = int(fraction * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    of = f"{listed:,}" + ("" if progress.get("listing_complete") else "+ listed so far")
    rate = progress.get("rate_per_second")
    eta = progress.get("estimated_seconds_remaining")
    # A dry-run task lists and plans; saying "0 deleted" there would read as a deletion that is not happening.
    done = "dry run:" if task.get("task_type") == "dry_run" else f"{deleted:,} deleted of"
    return (f"[{bar}] {fraction * 100:5.1f}%  {done} {of}  "
            f"{f'{rate:,.0f}/s' if rate is not None else '-/s'}  ETA {_duration(eta)}  {failed:,} failed  "
            f"{task.get('status', '?')}")


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "?"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


class ProgressDisplay:
    """One line redrawn in place (carriage return, erase line) on a terminal; nothing elsewhere."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.drawn = False

    def show(self, task: dict[str, Any]) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K" + progress_line(task))
            self.stream.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class StoppedWaiting(Exception):
    """Ctrl+C while waiting: the task goes on."""

    def __init__(self, task_id: str) -> None:
        super().__init__(task_id)
        self.task_id = task_id


def wait_for(api: Eraser, task_id: str, *, display: ProgressDisplay, first_retry_after: int | None = None) -> Outcome:
    delay = first_retry_after
    backoff = BACKOFF_START_SECONDS
    throttled = 0
    try:
        while True:
            if delay is not None:
                sleep(delay)
            try:
                answer = api.task(task_id)
            except ApiError as error:
                if error.status not in (429, 503) or error.retry_after is None or throttled >= THROTTLED_POLLS_MAX:
                    raise
                throttled += 1
                delay = error.retry_after
                continue
            throttled = 0
            task = answer.json()
            display.show(task)
            outcome = outcome_of(task)
            if outcome.state != "running":
                return outcome
            if answer.retry_after is not None:
                delay = answer.retry_after
            else:
                delay, backoff = backoff, min(backoff * 2, BACKOFF_MAX_SECONDS)
    except KeyboardInterrupt:
        raise StoppedWaiting(task_id) from None
    finally:
        display.close()


def stderr_display(enabled: bool) -> ProgressDisplay:
    return ProgressDisplay(sys.stderr, enabled)
