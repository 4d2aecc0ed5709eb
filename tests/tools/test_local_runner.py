"""The local Lambda runner with fake functions: warm workers, Lambda's context and error payloads, the timeout, and
logs kept out of the response."""

from __future__ import annotations

import json
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local.runner import FunctionSpec, Runner

FAKE_APP = '''
import json, os, sys, time

COLD = {"pid": os.getpid()}

def lambda_handler(event, context):
    print("printed by the function")
    action = event.get("action")
    if action == "raise":
        raise ValueError("bad input")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        sys.exit(3)
    if action == "unserializable":
        return {"value": object()}
    if action == "import-repository":
        import local  # noqa: F401 - only the function's directory and the layer are importable, as in Lambda
    return {"statusCode": 200, "pid": COLD["pid"], "cwd": os.getcwd(), "table": os.environ.get("TABLE"),
            "remaining_ms": context.get_remaining_time_in_millis(), "request_id": context.aws_request_id,
            "function_name": context.function_name, "memory": context.memory_limit_in_mb, "event": event}
'''


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "app.py").write_text(textwrap.dedent(FAKE_APP))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "app.py").write_text("import no_such_module_anywhere\n")
    specs = {
        "FakeFunction": FunctionSpec("FakeFunction", tmp_path / "fake", "app.lambda_handler", timeout=2,
                                     memory_mb=256, environment={"TABLE": "eraser-local-tenancy"}),
        "BrokenFunction": FunctionSpec("BrokenFunction", tmp_path / "broken", "app.lambda_handler", timeout=2,
                                       memory_mb=128),
    }
    created = Runner(specs, python=sys.executable, max_concurrency=2)
    yield created
    created.stop()


class Collect:
    """Stands in for SAM's StreamWriter."""

    def __init__(self) -> None:
        self.text = ""

    def write_str(self, text: str) -> None:
        self.text += text


def test_a_function_answers_with_its_environment_and_lambda_s_context(runner: Runner, tmp_path: Path) -> None:
    outcome = runner.call("FakeFunction", {"hello": "wörld"})
    assert not outcome.failed
    result: dict[str, Any] = outcome.payload
    assert result["event"] == {"hello": "wörld"}
    assert result["table"] == "eraser-local-tenancy"
    assert result["cwd"] == str(tmp_path / "fake")
    assert result["function_name"] == "FakeFunction" and result["memory"] == "256"
    assert 0 < result["remaining_ms"] <= 2000
    assert result["request_id"]


def test_the_worker_stays_warm_between_invocations(runner: Runner) -> None:
    first = runner.call("FakeFunction", {}).payload
    second = runner.call("FakeFunction", {}).payload
    assert first["pid"] == second["pid"]
    assert first["request_id"] != second["request_id"]


def test_what_the_function_prints_goes_to_the_logs_not_the_response(runner: Runner,
                                                                    capfd: pytest.CaptureFixture[str]) -> None:
    outcome = runner.call("FakeFunction", {})
    assert outcome.payload["statusCode"] == 200
    logs = capfd.readouterr().err
    assert "printed by the function" in logs
    assert "START RequestId" in logs and "REPORT RequestId" in logs


def test_an_exception_is_lambda_s_error_payload(runner: Runner) -> None:
    outcome = runner.call("FakeFunction", {"action": "raise"})
    assert outcome.failed
    assert outcome.payload["errorType"] == "ValueError"
    assert outcome.payload["errorMessage"] == "bad input"
    assert outcome.payload["requestId"] and outcome.payload["stackTrace"]


def test_the_timeout_kills_the_worker_and_the_next_invocation_is_a_cold_start(runner: Runner) -> None:
    warm_pid = runner.call("FakeFunction", {}).payload["pid"]
    outcome = runner.call("FakeFunction", {"action": "sleep", "seconds": 30})
    assert outcome.failed
    assert "Task timed out after 2.00 seconds" in outcome.payload["errorMessage"]
    assert runner.call("FakeFunction", {}).payload["pid"] != warm_pid


def test_an_exiting_function_is_a_runtime_exit_error(runner: Runner) -> None:
    outcome = runner.call("FakeFunction", {"action": "exit"})
    assert outcome.failed and outcome.payload["errorType"] == "Runtime.ExitError"
    assert not runner.call("FakeFunction", {}).failed


def test_the_repository_is_not_importable_from_a_function(runner: Runner) -> None:
    outcome = runner.call("FakeFunction", {"action": "import-repository"})
    assert outcome.failed and outcome.payload["errorType"] == "ModuleNotFoundError"


def test_an_unserializable_response_is_a_marshal_error(runner: Runner) -> None:
    outcome = runner.call("FakeFunction", {"action": "unserializable"})
    assert outcome.failed and outcome.payload["errorType"] == "Runtime.MarshalError"


def test_an_import_error_is_reported_on_invocation(runner: Runner) -> None:
    outcome = runner.call("BrokenFunction", {})
    assert outcome.failed
    assert outcome.payload["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'app'" in outcome.payload["errorMessage"]


def test_concurrent_invocations_run_in_separate_workers(runner: Runner) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: runner.call("FakeFunction", {"action": "sleep", "seconds": 0.5}).payload,
                                range(2)))
    assert len({result["pid"] for result in results}) == 2


def test_sam_interface_writes_the_response_to_stdout(runner: Runner) -> None:
    stdout = Collect()
    runner.invoke("FakeFunction", json.dumps({"x": 1}), stdout=stdout, stderr=None, tenant_id=None)
    assert json.loads(stdout.text)["event"] == {"x": 1}
    assert runner.is_debugging() is False


def test_sam_interface_failures_are_not_taken_for_a_proxy_response(runner: Runner) -> None:
    # SAM answers 502 when the payload is not a user-error shape of exactly errorMessage/errorType(/stackTrace):
    # every failure keeps requestId so that API Gateway's 502 "Internal server error" is what clients see.
    stdout = Collect()
    runner.invoke("FakeFunction", json.dumps({"action": "exit"}), stdout=stdout)
    assert "requestId" in json.loads(stdout.text)
