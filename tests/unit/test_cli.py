"""The ``eraser`` command against a scripted server: what it sends, what it prints, and the exit codes scripts rely on
(0 done, 1 refused or failed, 2 usage, 3 partial, 4 still running, 5 cannot reach or authenticate)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eraser_cli import main as cli
from eraser_cli import waiting

from local.backend import free_port
from tests.cli_fake_server import FakeEraser, plan, receipt_line, script_receipt, task

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


def test_the_progress_line_of_a_dry_run_task_counts_what_was_listed_and_claims_no_deletion():
    line = waiting.progress_line(task("t1", "PROCESSING", listed=5000, rate=900.0, eta=4, kind="dry_run"))

    assert line == "[........................]   0.0%  dry run: 5,000+ listed so far  900/s  ETA 0:04  0 failed  PROCESSING"


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
    for line in ("--dry-run deletes nothing", "task receipt TASK", "0  done", "1  refused or failed", "2  usage", "3  finished with some keys not deleted",
                 "4  still running", "5  cannot reach or authenticate", "config.toml", "--local", "ERASER_URL"):
        assert line in text




# --- dry runs (docs/dry-run.md) --------------------------------------------------------------------------------------
@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin is not a terminal: a destructive command without --yes would refuse, so a dry run that goes through was
    not asked to confirm."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def sent_path(server: FakeEraser) -> str:
    [request] = server.sent()
    return request.path


def test_a_purge_dry_run_asks_nothing_sends_dry_run_true_and_prints_the_whole_answer_as_one_json_document(
        server, capsys, no_terminal):
    answer = {"message": "success", "dry_run": True, "plan": plan()}
    server.script("DELETE", PURGE, 200, answer)

    code, out, _ = run(server, capsys, "--json", "purge", "photos", "--dry-run")

    assert code == 0
    assert out == json.dumps({"command": "purge", "outcome": "done", "exit_code": 0, "dry_run": True, "plan": plan(),
                              "task_id": None, "answer": answer}, indent=2, sort_keys=True) + "\n"
    assert sent_path(server) == f"{PURGE}?dry_run=true"


@pytest.mark.parametrize(("argv", "method", "route", "sent"), [
    (["rm", "photos", "a.txt", "b.txt"], "DELETE", "/v1/storage/objects", "/v1/storage/objects?bucket=photos&dry_run=true"),
    (["rm", "photos", "--path", "docs"], "DELETE", "/v1/storage/objects", "/v1/storage/objects?bucket=photos&dry_run=true"),
    (["delete-bucket", "photos"], "DELETE", "/v1/buckets/photos", "/v1/buckets/photos?dry_run=true"),
    (["trash", "purge-all", "--org", "acme"], "POST", "/organizations/organization/trash_objects/purge_all",
     "/organizations/organization/trash_objects/purge_all?dry_run=true"),
])
def test_every_destructive_json_family_command_sends_dry_run_true_and_shows_the_plan_without_asking(
        server, capsys, no_terminal, argv, method, route, sent):
    server.script(method, route, 200, {"dry_run": True, "plan": plan()})

    code, document = run_json(server, capsys, *argv, "--dry-run")

    assert code == 0
    assert document["dry_run"] is True and document["plan"] == plan()
    assert sent_path(server) == sent
    assert server.sent()[0].method == method


def test_a_bulk_delete_dry_run_reads_the_plan_inside_seahorse_s_data_envelope_too(server, capsys, no_terminal):
    server.script("DELETE", "/v1/storage/objects", 200, {"data": {"dry_run": True, "plan": plan()}})

    code, document = run_json(server, capsys, "rm", "photos", "a.txt", "--dry-run")

    assert code == 0 and document["plan"] == plan()


def test_a_dry_run_prints_what_would_be_deleted_what_would_be_left_and_why_the_outcomes_and_the_sample(
        server, capsys, no_terminal):
    server.script("DELETE", "/v1/buckets/photos", 200, {"dry_run": True, "plan": plan()})

    code, out, err = run(server, capsys, "delete-bucket", "photos", "--dry-run")

    assert code == 0
    assert err == ""
    assert out == """\
Dry run of deletion of bucket 'photos': nothing was deleted.

would delete       count
objects            12
versions           20
delete markers     3
multipart uploads  1
bytes              52,428

would leave            count
object lock retention  1
legal hold             2

outcome                count
deleted                22
delete_marker_created  0
already_absent         1
blocked_by_retention   3

sample (2 keys):
key       version   outcome               reason
a/b.txt   3HL4kqtJ  blocked_by_retention  legal_hold
gone.txt            already_absent
"""


def test_an_incomplete_plan_says_its_counts_are_lower_bounds_and_a_plan_leaving_nothing_says_so(
        server, capsys, no_terminal):
    partial_plan = {**plan(complete=False), "would_leave": {"legal_hold": 0, "bucket": False}}
    server.script("DELETE", PURGE, 200, {"dry_run": True, "plan": partial_plan})

    code, out, _ = run(server, capsys, "purge", "photos", "--dry-run")

    assert code == 0
    assert "would leave: nothing" in out
    assert out.endswith("the plan is incomplete: the counts are lower bounds\n")


def test_a_dry_run_too_big_for_the_request_is_a_dry_run_task_waited_for_and_its_plan_printed(
        server, capsys, slept, no_terminal):
    server.script("DELETE", PURGE, 202, {"task": {"id": "t1", "status": "PENDING"}}, headers={"Retry-After": "4"})
    server.script("GET", TASK, 200, task("t1", "IN_PROGRESS", listed=5000, kind="dry_run"),
                  headers={"Retry-After": "6"})
    done = task("t1", "COMPLETED", listed=9000, listing_complete=True, kind="dry_run", plan=plan())
    server.script("GET", TASK, 200, done)

    code, out, _ = run(server, capsys, "--json", "purge", "photos", "--dry-run", "--wait")

    assert code == 0
    assert slept == [4, 6]
    assert out == json.dumps({"command": "purge", "outcome": "done", "exit_code": 0, "dry_run": True, "plan": plan(),
                              "task_id": "t1", "task": done}, indent=2, sort_keys=True) + "\n"
    assert [request.path for request in server.sent()] == [f"{PURGE}?dry_run=true", TASK, TASK]


@pytest.mark.parametrize(("argv", "route", "accepted"), [
    (["rm", "photos", "--path", "big"], "/v1/storage/objects", {"data": {"task": {"id": "t1"}}}),
    (["delete-bucket", "photos"], "/v1/buckets/photos", {"task_id": "t1", "status": "PENDING"}),
])
def test_every_family_s_dry_run_task_shape_is_followed_to_its_plan(server, capsys, slept, no_terminal, argv, route,
                                                                   accepted):
    server.script("DELETE", route, 202, accepted)
    server.script("GET", TASK, 200, task("t1", "COMPLETED", kind="dry_run", plan=plan()))

    code, document = run_json(server, capsys, *argv, "--dry-run", "--wait")

    assert code == 0 and document["task_id"] == "t1" and document["plan"] == plan()


def test_a_dry_run_task_not_waited_for_is_exit_4_and_task_wait_later_prints_its_plan(server, capsys, no_terminal):
    server.script("DELETE", PURGE, 202, {"task": {"id": "t1"}})
    server.script("GET", TASK, 200, task("t1", "IN_PROGRESS", kind="dry_run"))
    server.script("GET", TASK, 200, task("t1", "COMPLETED", kind="dry_run", plan=plan()))

    code, out, _ = run(server, capsys, "purge", "photos", "--dry-run", "--no-wait")

    assert code == 4
    assert "eraser task wait t1" in out

    code, out, _ = run(server, capsys, "task", "wait", "t1")

    assert code == 0
    assert out.startswith("Dry run of task t1: nothing was deleted.\n\nwould delete")


def test_a_failed_dry_run_task_is_exit_1(server, capsys, slept, no_terminal):
    server.script("DELETE", PURGE, 202, {"task": {"id": "t1"}})
    server.script("GET", TASK, 200, task("t1", "FAILED", kind="dry_run"))

    code, document = run_json(server, capsys, "purge", "photos", "--dry-run", "--wait")

    assert code == 1 and document["outcome"] == "failed"


def test_a_server_that_answers_a_dry_run_with_a_real_task_is_exit_1_and_names_the_task(server, capsys, no_terminal):
    server.script("DELETE", PURGE, 200, {"message": "success", "task": {"id": "t1", "status": "IN_PROGRESS"}})

    code, _, err = run(server, capsys, "purge", "photos", "--dry-run")

    assert code == 1
    assert "no plan" in err and "task show t1" in err and "may not offer dry runs" in err


def test_a_dry_run_answered_with_a_deletion_task_instead_of_a_dry_run_task_is_exit_1(server, capsys, slept,
                                                                                      no_terminal):
    server.script("DELETE", "/v1/storage/objects", 202, {"data": {"task": {"id": "t1"}}})
    server.script("GET", TASK, 200, task("t1", "IN_PROGRESS", kind="bulk_delete"))

    code, _, err = run(server, capsys, "rm", "photos", "--path", "big", "--dry-run", "--no-wait")

    assert code == 1
    assert "bulk_delete task (t1), not a dry-run task" in err


def test_a_dry_run_refused_by_the_api_is_exit_1_with_the_family_error(server, capsys, no_terminal):
    server.script("DELETE", "/v1/buckets/photos", 422, {"success": False, "error": {
        "code": "validation_error", "message": "dry_run must be true or false", "type": "validation"}})

    code, document = run_json(server, capsys, "delete-bucket", "photos", "--dry-run")

    assert code == 1 and document["error"]["code"] == "validation_error"


def test_s3_rm_dry_run_sends_the_header_asks_nothing_and_shows_the_would_be_outcome(server, capsys, no_terminal):
    server.script("DELETE", "/s3/photos/a.txt", 204, headers={"x-eraser-dry-run": "true",
                                                              "x-eraser-outcome": "deleted"})

    code, out, _ = run(server, capsys, "--json", "s3", "rm", "photos", "a.txt", "--version-id", "v3", "--dry-run")

    assert code == 0
    assert out == json.dumps({"command": "s3 rm", "outcome": "done", "exit_code": 0, "dry_run": True,
                              "bucket": "photos", "key": "a.txt", "version_id": "v3", "would_be_outcome": "deleted",
                              "error": None}, indent=2, sort_keys=True) + "\n"
    [request] = server.sent()
    assert request.path == "/s3/photos/a.txt?versionId=v3"
    assert request.headers["x-eraser-dry-run"] == "true"


def test_s3_rm_dry_run_of_a_key_s3_would_refuse_is_exit_0_with_the_outcome_and_s3_s_error(server, capsys,
                                                                                          no_terminal):
    server.script("DELETE", "/s3/photos/locked.txt", 403, headers={
        "x-eraser-dry-run": "true", "x-eraser-outcome": "blocked_by_retention"},
        raw=b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")

    code, out, _ = run(server, capsys, "s3", "rm", "photos", "locked.txt", "--dry-run")

    assert code == 0
    assert out == ("Dry run: deleting 'locked.txt' from bucket 'photos' would end in blocked_by_retention "
                   "(S3 would answer 403 AccessDenied: Access Denied); nothing was deleted.\n")


def test_s3_rm_dry_run_answered_without_the_dry_run_header_is_exit_1(server, capsys, no_terminal):
    server.script("DELETE", "/s3/photos/a.txt", 204, headers={"x-amz-delete-marker": "true"})

    code, _, err = run(server, capsys, "s3", "rm", "photos", "a.txt", "--dry-run")

    assert code == 1
    assert "without x-eraser-dry-run" in err and "may have been deleted" in err


def test_an_s3_error_without_an_outcome_is_the_dry_run_s_own_refusal(server, capsys, no_terminal):
    server.script("DELETE", "/s3/gone/a.txt", 404, headers={"x-eraser-dry-run": "true"},
                  raw=b"<Error><Code>NoSuchBucket</Code><Message>no bucket</Message></Error>")

    code, document = run_json(server, capsys, "s3", "rm", "gone", "a.txt", "--dry-run")

    assert code == 1 and document["error"]["code"] == "NoSuchBucket"


# --- task receipt (the shared receipt contract, docs: notes) ---------------------------------------------------------
RECEIPT = "/v1/tasks/t1/receipt"


def test_task_receipt_downloads_verifies_and_counts_every_part_without_sending_the_key_to_the_part_urls(server,
                                                                                                        capsys):
    receipt = script_receipt(server, "t1", [["deleted", "deleted", "blocked_by_retention"], ["deleted", "failed"]])

    code, out, _ = run(server, capsys, "--json", "task", "receipt", "t1")

    assert code == 0
    assert out == json.dumps({
        "command": "task receipt", "outcome": "done", "exit_code": 0, "task_id": "t1",
        "parts": [{"key": part["key"], "sha256": part["sha256"], "lines": part["lines"], "path": None}
                  for part in receipt["parts"]],
        "counts": {"deleted": 3, "blocked_by_retention": 1, "failed": 1}, "lines": 5}, indent=2, sort_keys=True) + "\n"
    receipt_request, *part_requests = server.sent()
    assert receipt_request.path == RECEIPT and receipt_request.headers["x-api-key"] == KEY
    assert [request.path.split("?")[0] for request in part_requests] == [
        "/presigned/receipts/t1/parts/00000000.jsonl.gz", "/presigned/receipts/t1/parts/00000001.jsonl.gz"]
    assert all("x-api-key" not in request.headers for request in part_requests)
    assert part_requests[0].path.endswith("X-Amz-Signature=abc123")


def test_task_receipt_prints_the_counts_per_outcome_as_a_table(server, capsys):
    script_receipt(server, "t1", [["deleted"] * 1200 + ["already_absent"]])

    code, out, _ = run(server, capsys, "task", "receipt", "t1")

    assert code == 0
    assert out == ("Receipt of task t1: 1 part verified (SHA-256), 1,201 lines.\n\n"
                   "outcome         count\n"
                   "deleted         1,200\n"
                   "already_absent  1\n")


def test_task_receipt_download_writes_each_verified_part_byte_for_byte(server, capsys, tmp_path):
    receipt = script_receipt(server, "t1", [["deleted"], ["delete_marker_created", "deleted"]])
    target = tmp_path / "receipt"

    code, document = run_json(server, capsys, "task", "receipt", "t1", "--download", str(target))

    assert code == 0
    assert sorted(path.name for path in target.iterdir()) == ["00000000.jsonl.gz", "00000001.jsonl.gz"]
    for part, reported in zip(receipt["parts"], document["parts"], strict=True):
        written = target / part["key"].rsplit("/", 1)[1]
        assert reported["path"] == str(written)
        assert hashlib.sha256(written.read_bytes()).hexdigest() == part["sha256"]
    second = gzip.decompress((target / "00000001.jsonl.gz").read_bytes()).decode().splitlines()
    assert [json.loads(line) for line in second] == [receipt_line("k1-0", "delete_marker_created"),
                                                     receipt_line("k1-1", "deleted")]


def test_a_part_whose_sha256_does_not_match_is_exit_1_naming_the_part_and_is_not_written(server, capsys, tmp_path):
    script_receipt(server, "t1", [["deleted"], ["deleted"]], wrong_sha256_part=1)
    target = tmp_path / "receipt"

    code, out, err = run(server, capsys, "--json", "task", "receipt", "t1", "--download", str(target))

    assert code == 1
    document = json.loads(out)
    assert document["outcome"] == "failed" and "receipts/t1/parts/00000001.jsonl.gz" in document["error"]["message"]
    assert "receipts/t1/parts/00000001.jsonl.gz: SHA-256" in err and "does not match" in err
    assert [path.name for path in target.iterdir()] == ["00000000.jsonl.gz"]


def test_a_part_with_fewer_lines_than_the_receipt_says_is_exit_1(server, capsys):
    receipt = script_receipt(server, "t1", [["deleted", "deleted"]])
    receipt["parts"][0]["lines"] = 3
    server.routes[("GET", RECEIPT)].clear()
    server.script("GET", RECEIPT, 200, receipt)

    code, _, err = run(server, capsys, "task", "receipt", "t1")

    assert code == 1
    assert "00000000.jsonl.gz: 2 lines, the receipt says 3" in err


def test_an_expired_part_url_is_a_failure_not_an_authentication_error(server, capsys):
    receipt = script_receipt(server, "t1", [["deleted"]])
    server.routes[("GET", receipt["parts"][0]["url"].split("?")[0].removeprefix(server.url))].clear()
    server.script("GET", "/presigned/receipts/t1/parts/00000000.jsonl.gz", 403,
                  raw=b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")

    code, _, err = run(server, capsys, "task", "receipt", "t1")

    assert code == 1
    assert "00000000.jsonl.gz: download refused (403 AccessDenied: Request has expired)" in err


def test_the_receipt_of_a_running_task_is_exit_4(server, capsys):
    server.script("GET", RECEIPT, 409, {"success": False, "error": {
        "code": "task_running", "message": "the task has not finished", "type": "conflict"}})

    code, document = run_json(server, capsys, "task", "receipt", "t1")

    assert code == 4
    assert document == {"command": "task receipt", "outcome": "running", "exit_code": 4, "task_id": "t1",
                        "error": {"status": 409, "code": "task_running", "message": "the task has not finished"}}


def test_the_receipt_of_a_missing_task_is_exit_1(server, capsys):
    server.script("GET", RECEIPT, 404, {"success": False, "error": {
        "code": "not_found", "message": "task not found", "type": "not_found"}})

    code, document = run_json(server, capsys, "task", "receipt", "t1")

    assert code == 1
    assert document["error"] == {"status": 404, "code": "not_found", "message": "task not found"}
    assert len(server.sent()) == 1
