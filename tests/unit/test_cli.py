"""The ``eraser`` command against a scripted server: what it sends, what it prints, and the exit codes scripts rely on
(0 done, 1 refused or failed, 2 usage, 3 partial, 4 still running, 5 cannot reach or authenticate)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eraser_cli import main as cli
from eraser_cli import waiting

from local.backend import free_port
from tests.cli_fake_server import FakeEraser, task

KEY = "erk_cli_test_0123456789abcdefSECRET"
PURGE = "/storage/obj/photos/purge"
TASK = "/v1/tasks/t1"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ERASER_URL", "ERASER_API_KEY", "ERASER_PROFILE", "ERASER_LOCAL_STATE", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ERASER_CONFIG", str(tmp_path / "absent.toml"))


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What the client would have slept between polls; nothing actually waits."""
    record: list[float] = []
    monkeypatch.setattr(waiting, "sleep", record.append)
    return record


@pytest.fixture
def server() -> Iterator[FakeEraser]:
    with FakeEraser() as fake:
        yield fake


def run(server: FakeEraser, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--url", server.url, "--api-key", KEY, *argv])
    out, err = capsys.readouterr()
    assert KEY not in out and KEY not in err
    return code, out, err


def run_json(server: FakeEraser, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code, out, _ = run(server, capsys, "--json", *argv)
    return code, json.loads(out)


# --- exit 0 ----------------------------------------------------------------------------------------------------------
def test_rm_synchronous_is_done_and_sends_the_keys_the_folders_and_the_key_header(server, capsys):
    server.script("DELETE", "/v1/storage/objects", 200, {"data": {
        "deleted_object_count": 2, "deleted_objects": ["a.txt", "docs/b.txt"], "errors": []}})

    code, document = run_json(server, capsys, "rm", "photos", "a.txt", "--path", "docs", "--yes")

    assert code == 0
    assert document == {"command": "rm", "outcome": "done", "exit_code": 0, "bucket": "photos",
                        "deleted_object_count": 2, "deleted_objects": ["a.txt", "docs/b.txt"], "errors": []}
    [request] = server.sent()
    assert request.path == "/v1/storage/objects?bucket=photos"
    assert request.json() == {"object_keys": ["a.txt"], "path": ["docs"]}
    assert request.headers["x-api-key"] == KEY
    assert request.headers["idempotency-key"].startswith("eraser-cli-")


def test_a_missing_key_reported_404_by_bulk_delete_is_still_done(server, capsys):
    server.script("DELETE", "/v1/storage/objects", 200, {"data": {
        "deleted_object_count": 0, "deleted_objects": [],
        "errors": [{"key": "gone.txt", "error_code": "404", "error_message": "not found"}]}})

    code, out, _ = run(server, capsys, "rm", "photos", "gone.txt", "--yes")

    assert code == 0
    assert "Deleted 0 objects from photos." in out and "gone.txt" in out


def test_purge_waits_through_the_polls_honouring_every_retry_after(server, capsys, slept):
    server.script("DELETE", PURGE, 200, {"message": "success", "task": {"id": "t1", "status": "IN_PROGRESS"}},
                  headers={"Retry-After": "7"})
    server.script("GET", TASK, 200, task("t1", "IN_PROGRESS", deleted=10, listed=40), headers={"Retry-After": "3"})
    server.script("GET", TASK, 200, task("t1", "PROCESSING", deleted=30, listed=40), headers={"Retry-After": "11"})
    server.script("GET", TASK, 200, task("t1", "COMPLETED", deleted=40, listed=40, listing_complete=True))

    code, document = run_json(server, capsys, "purge", "photos", "--yes", "--wait")

    assert code == 0
    assert slept == [7, 3, 11]
    assert document["outcome"] == "done" and document["task_id"] == "t1"
    assert [request.method for request in server.sent()] == ["DELETE", "GET", "GET", "GET"]


def test_without_retry_after_the_polls_back_off_doubling(server, capsys, slept):
    server.script("DELETE", PURGE, 200, {"task": {"id": "t1"}})
    for _ in range(6):
        server.script("GET", TASK, 200, task("t1", "IN_PROGRESS"))
    server.script("GET", TASK, 200, task("t1", "COMPLETED"))

    code, _, _ = run(server, capsys, "purge", "photos", "--yes", "--wait")

    assert code == 0
    assert slept == [1, 2, 4, 8, 16, 30]


def test_a_throttled_poll_is_asked_again_after_its_retry_after(server, capsys, slept):
    server.script("DELETE", PURGE, 200, {"task": {"id": "t1"}})
    server.script("GET", TASK, 429, {"error": {"code": "rate_limited", "message": "slow down"}},
                  headers={"Retry-After": "5"})
    server.script("GET", TASK, 200, task("t1", "COMPLETED"))

    code, _, _ = run(server, capsys, "purge", "photos", "--yes", "--wait")

    assert code == 0
    assert slept == [5]


def test_task_show_prints_a_table_of_the_task(server, capsys):
    server.script("GET", TASK, 200, task("t1", "COMPLETED", deleted=1234, listed=1234))

    code, out, _ = run(server, capsys, "task", "show", "t1")

    assert code == 0
    assert "status" in out and "COMPLETED" in out and "1,234" in out


def test_s3_rm_reports_the_delete_marker(server, capsys):
    server.script("DELETE", "/s3/photos/a%20b.txt", 204, headers={"x-amz-delete-marker": "true",
                                                                  "x-amz-version-id": "v9"})

    code, document = run_json(server, capsys, "s3", "rm", "photos", "a b.txt", "--yes")

    assert code == 0
    assert document == {"command": "s3 rm", "outcome": "done", "exit_code": 0, "bucket": "photos", "key": "a b.txt",
                        "version_id": "v9", "delete_marker": True}


# --- exit 1 ----------------------------------------------------------------------------------------------------------
def test_without_a_terminal_and_without_yes_it_refuses_and_sends_nothing(server, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    code, _, err = run(server, capsys, "rm", "photos", "a.txt")

    assert code == 1
    assert "pass --yes" in err
    assert server.sent() == []


def test_a_refusal_by_the_api_is_exit_1_with_the_family_error(server, capsys):
    server.script("DELETE", "/v1/buckets/photos", 409, {"success": False, "error": {
        "code": "bucket_locked", "message": "the bucket has Object Lock", "type": "conflict"}})

    code, document = run_json(server, capsys, "delete-bucket", "photos", "--yes", "--no-wait")

    assert code == 1
    assert document == {"command": "delete-bucket", "outcome": "refused", "exit_code": 1,
                        "error": {"status": 409, "code": "bucket_locked", "message": "the bucket has Object Lock"}}


def test_the_s3_xml_access_denied_of_object_lock_is_a_refusal_not_an_authentication_failure(server, capsys):
    server.script("DELETE", "/s3/photos/locked.txt", 403, raw=(
        b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"))

    code, document = run_json(server, capsys, "s3", "rm", "photos", "locked.txt", "--yes")

    assert code == 1
    assert document["error"] == {"status": 403, "code": "AccessDenied", "message": "Access Denied"}


@pytest.mark.parametrize("status", ["FAILED", "CANCELED"])
def test_a_failed_or_cancelled_task_is_exit_1(server, capsys, slept, status):
    server.script("DELETE", PURGE, 200, {"task": {"id": "t1"}})
    server.script("GET", TASK, 200, task("t1", status))

    code, document = run_json(server, capsys, "purge", "photos", "--yes", "--wait")

    assert code == 1
    assert document["outcome"] == {"FAILED": "failed", "CANCELED": "cancelled"}[status]


def test_a_server_error_is_exit_1_failed(server, capsys):
    server.script("GET", TASK, 500, {"error": {"code": "internal", "message": "boom"}})

    code, document = run_json(server, capsys, "task", "show", "t1")

    assert code == 1 and document["outcome"] == "failed"


# --- exit 2 ----------------------------------------------------------------------------------------------------------
def test_rm_without_keys_or_folders_is_a_usage_error(server, capsys):
    code, _, err = run(server, capsys, "rm", "photos", "--yes")

    assert code == 2
    assert "KEY or --path" in err
    assert server.sent() == []


def test_no_url_anywhere_is_a_usage_error(capsys):
    assert cli.main(["task", "show", "t1"]) == 2
    assert "no API URL" in capsys.readouterr().err


def test_bad_arguments_are_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["purge"])
    assert exited.value.code == 2


def test_a_named_profile_missing_from_the_file_is_a_usage_error(capsys, tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text('[profiles.dev]\nurl = "http://127.0.0.1:1"\n')
    monkeypatch.setenv("ERASER_CONFIG", str(tmp_path / "config.toml"))

    assert cli.main(["--profile", "prod", "task", "show", "t1"]) == 2
    assert "no profile 'prod'" in capsys.readouterr().err


# --- exit 3 ----------------------------------------------------------------------------------------------------------
def test_rm_with_keys_the_store_refused_is_partial(server, capsys):
    server.script("DELETE", "/v1/storage/objects", 200, {"data": {
        "deleted_object_count": 1, "deleted_objects": ["a.txt"],
        "errors": [{"key": "locked.txt", "error_code": "403", "error_message": "Object Lock"}]}})

    code, document = run_json(server, capsys, "rm", "photos", "a.txt", "locked.txt", "--yes")

    assert code == 3
    assert document["outcome"] == "partial"
    assert document["errors"] == [{"key": "locked.txt", "error_code": "403", "error_message": "Object Lock"}]


def test_a_task_completed_with_errors_is_partial_and_shows_the_failure_sample(server, capsys, slept):
    server.script("DELETE", PURGE, 200, {"task": {"id": "t1"}})
    server.script("GET", TASK, 200, task("t1", "COMPLETED_WITH_ERRORS", deleted=9, failed=1, listed=10, failures=[
        {"key": "locked.txt", "version_id": "v1", "code": "AccessDenied", "message": "Object Lock"}]))

    code, out, _ = run(server, capsys, "purge", "photos", "--yes", "--wait")

    assert code == 3
    assert "keys not deleted (sample)" in out and "locked.txt" in out


# --- exit 4 ----------------------------------------------------------------------------------------------------------
def test_not_waiting_on_a_running_task_is_exit_4_and_says_how_to_wait(server, capsys, slept):
    server.script("DELETE", PURGE, 200, {"task": {"id": "t1"}}, headers={"Retry-After": "2"})
    server.script("GET", TASK, 200, task("t1", "IN_PROGRESS", deleted=5, listed=50))

    code, out, _ = run(server, capsys, "purge", "photos", "--yes", "--no-wait")

    assert code == 4
    assert "eraser task wait t1" in out
    assert slept == []


def test_a_large_rm_becomes_a_task_and_without_waiting_is_exit_4(server, capsys):
    server.script("DELETE", "/v1/storage/objects", 202, {"data": {"task": {"id": "t1", "status": "PENDING"}}},
                  headers={"Retry-After": "1", "Location": "/v1/tasks/t1"})
    server.script("GET", TASK, 200, task("t1", "PENDING"))

    code, document = run_json(server, capsys, "rm", "photos", "--path", "big", "--yes", "--no-wait")

    assert code == 4
    assert document["outcome"] == "running" and document["task_id"] == "t1"


def test_ctrl_c_while_waiting_stops_waiting_says_how_to_resume_or_cancel_and_is_exit_4(server, capsys, monkeypatch):
    server.script("DELETE", PURGE, 200, {"task": {"id": "t1"}})
    server.script("GET", TASK, 200, task("t1", "IN_PROGRESS"), headers={"Retry-After": "1"})

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(waiting, "sleep", interrupted)

    code, _, err = run(server, capsys, "purge", "photos", "--yes", "--wait")

    assert code == 4
    assert "task t1 goes on" in err
    assert "task wait t1" in err and "task cancel t1" in err
    assert server.sent("POST") == []


# --- exit 5 ----------------------------------------------------------------------------------------------------------
def test_nothing_listening_is_exit_5(capsys):
    url = f"http://127.0.0.1:{free_port()}"

    code = cli.main(["--url", url, "--api-key", KEY, "--json", "rm", "photos", "a.txt", "--yes"])

    out, err = capsys.readouterr()
    assert code == 5
    assert json.loads(out)["outcome"] == "unreachable"
    assert KEY not in out + err


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_is_exit_5(server, capsys, status):
    server.script("GET", TASK, status, {"error": {"code": "unauthorized", "message": "invalid API key"}})

    code, document = run_json(server, capsys, "task", "show", "t1")

    assert code == 5
    assert document["outcome"] == "unauthenticated"
    assert document["error"]["status"] == status


# --- output ----------------------------------------------------------------------------------------------------------
def test_the_json_document_of_a_task_has_stable_field_names(server, capsys):
    body = task("t1", "COMPLETED", deleted=3, listed=3)
    server.script("GET", TASK, 200, body)

    code, out, _ = run(server, capsys, "--json", "task", "show", "t1")

    assert code == 0
    assert out == json.dumps({"command": "task show", "exit_code": 0, "outcome": "done", "task": body,
                              "task_id": "t1"}, indent=2, sort_keys=True) + "\n"


def test_the_progress_line_counts_deleted_of_listed_so_far_rate_eta_and_failures():
    line = waiting.progress_line(task("t1", "PROCESSING", deleted=1500, failed=2, listed=3000, rate=250.0, eta=75))

    assert line == ("[############............]  50.0%  1,500 deleted of 3,000+ listed so far  250/s  ETA 1:15  "
                    "2 failed  PROCESSING")


def test_the_progress_line_is_redrawn_in_place_and_only_on_a_terminal():
    stream = io.StringIO()
    display = waiting.ProgressDisplay(stream, enabled=True)
    display.show(task("t1", "PROCESSING", deleted=1, listed=2))
    display.show(task("t1", "COMPLETED", deleted=2, listed=2, listing_complete=True))
    display.close()
    assert stream.getvalue().count("\r\x1b[K") == 2 and stream.getvalue().endswith("COMPLETED\n")

    quiet = io.StringIO()
    hidden = waiting.ProgressDisplay(quiet, enabled=False)
    hidden.show(task("t1", "PROCESSING"))
    hidden.close()
    assert quiet.getvalue() == ""


def test_the_key_is_hidden_in_settings_and_errors(server, capsys):
    from eraser_cli import config

    settings = config.resolve(url=server.url, api_key=KEY, local=False, profile=None, environ={})
    assert KEY not in repr(settings) and KEY not in str(settings)


def test_help_documents_the_exit_codes_and_the_configuration(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for line in ("0  done", "1  refused or failed", "2  usage", "3  finished with some keys not deleted",
                 "4  still running", "5  cannot reach or authenticate", "config.toml", "--local", "ERASER_URL"):
        assert line in text


@pytest.mark.parametrize("argv", [["rm", "photos", "a.txt", "--dry-run"], ["purge", "photos", "--dry-run"],
                                  ["delete-bucket", "photos", "--dry-run"], ["trash", "purge-all", "--dry-run"],
                                  ["s3", "rm", "photos", "a.txt", "--dry-run"], ["task", "receipt", "t1"]])
def test_dry_runs_and_receipts_are_refused_as_not_offered_yet_and_send_nothing(server, capsys, argv):
    code, _, err = run(server, capsys, *argv, "--yes") if argv[0] != "task" else run(server, capsys, *argv)

    assert code == 2
    assert "does not offer" in err and "nothing was sent" in err
    assert server.sent() == []
