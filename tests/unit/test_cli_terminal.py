"""The ``eraser`` command on a real pseudo-terminal (pexpect): the confirmation prompt, the progress line, Ctrl+C.

The command runs as its own process against a scripted server in this one; nothing here measures time."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator

import pexpect
import pytest

from tests.cli_fake_server import FakeEraser, plan, task

KEY = "erk_cli_tty_0123456789abcdefSECRET"
PURGE = "/storage/obj/photos/purge"
TASK = "/v1/tasks/t1"
# Generous: the child imports and starts in well under this even on a loaded machine; it bounds a hang, not a speed.
EXPECT_TIMEOUT_SECONDS = 60


@pytest.fixture
def server() -> Iterator[FakeEraser]:
    with FakeEraser() as fake:
        yield fake


def environment() -> dict[str, str]:
    kept = {name: value for name, value in os.environ.items() if not name.startswith("ERASER_")}
    return {**kept, "ERASER_CONFIG": os.devnull + ".absent", "TERM": "xterm"}


def spawn(server: FakeEraser, *argv: str) -> tuple[pexpect.spawn, io.StringIO]:
    transcript = io.StringIO()
    child = pexpect.spawn(sys.executable, ["-m", "eraser_cli", "--url", server.url, "--api-key", KEY, *argv],
                          env=environment(), encoding="utf-8", timeout=EXPECT_TIMEOUT_SECONDS,
                          dimensions=(24, 200))
    child.logfile_read = transcript
    return child, transcript


def finish(child: pexpect.spawn, transcript: io.StringIO) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert KEY not in transcript.getvalue()
    return int(child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0))


def test_on_a_terminal_purge_asks_for_the_bucket_name_then_waits_with_a_progress_line(server):
    server.script("DELETE", PURGE, 200, {"task": {"id": "t1"}})
    server.script("GET", TASK, 200, task("t1", "PROCESSING", deleted=1200, listed=4800, rate=400.0, eta=9),
                  headers={"Retry-After": "0"})
    server.script("GET", TASK, 200, task("t1", "COMPLETED", deleted=4800, listed=4800, listing_complete=True))
    child, transcript = spawn(server, "purge", "photos")

    child.expect_exact("type 'photos' to confirm: ")
    assert server.sent() == []
    child.sendline("photos")
    child.expect_exact("1,200 deleted of 4,800+ listed so far  400/s  ETA 0:09  0 failed  PROCESSING")
    child.expect_exact("4,800 deleted of 4,800  ")

    assert finish(child, transcript) == 0
    assert "[######..................]  25.0%" in transcript.getvalue()
    assert "COMPLETED" in transcript.getvalue()
    assert [request.method for request in server.sent()] == ["DELETE", "GET", "GET"]


def test_on_a_terminal_a_purge_dry_run_prints_the_plan_table_without_asking(server):
    server.script("DELETE", PURGE, 200, {"message": "success", "dry_run": True, "plan": plan()})
    child, transcript = spawn(server, "purge", "photos", "--dry-run")

    child.expect_exact("Dry run of purge of bucket 'photos': nothing was deleted.")
    child.expect_exact("multipart uploads  1")
    child.expect_exact("a/b.txt   3HL4kqtJ  blocked_by_retention  legal_hold")

    assert finish(child, transcript) == 0
    assert "confirm" not in transcript.getvalue()
    [request] = server.sent()
    assert request.path == f"{PURGE}?dry_run=true"


def test_any_answer_but_the_bucket_name_refuses_and_sends_nothing(server):
    child, transcript = spawn(server, "delete-bucket", "photos")

    child.expect_exact("type 'photos' to confirm: ")
    child.sendline("y")

    assert finish(child, transcript) == 1
    assert "not confirmed; nothing was sent" in transcript.getvalue()
    assert server.sent() == []


def test_rm_asks_yes_or_no_on_a_terminal(server):
    server.script("DELETE", "/v1/storage/objects", 200, {"data": {
        "deleted_object_count": 1, "deleted_objects": ["a.txt"], "errors": []}})
    child, transcript = spawn(server, "rm", "photos", "a.txt")

    child.expect_exact("Delete a.txt from bucket 'photos'? [y/N]: ")
    child.sendline("y")

    assert finish(child, transcript) == 0
    assert "Deleted 1 objects from photos." in transcript.getvalue()


def test_ctrl_c_while_waiting_leaves_the_task_running_and_says_how_to_resume_or_cancel(server):
    server.script("DELETE", PURGE, 200, {"task": {"id": "t1"}})
    server.script("GET", TASK, 200, task("t1", "PROCESSING", deleted=10, listed=100),
                  headers={"Retry-After": "30"})
    child, transcript = spawn(server, "purge", "photos", "--yes")

    child.expect_exact("10 deleted of 100+ listed so far")
    child.sendintr()
    child.expect_exact("Stopped waiting; task t1 goes on.")

    assert finish(child, transcript) == 4
    text = transcript.getvalue()
    assert "resume waiting: eraser task wait t1" in text
    assert "cancel it:      eraser task cancel t1" in text
    assert server.sent("POST") == []


def test_without_a_terminal_and_without_yes_it_refuses(server):
    completed = subprocess.run([sys.executable, "-m", "eraser_cli", "--url", server.url, "--api-key", KEY,  # noqa: S603
                                "purge", "photos"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               env=environment(), timeout=EXPECT_TIMEOUT_SECONDS, check=False)

    assert completed.returncode == 1
    assert "stdin is not a terminal: pass --yes to confirm" in completed.stderr
    assert KEY not in completed.stdout + completed.stderr
    assert server.sent() == []
