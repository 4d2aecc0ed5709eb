"""One warm Lambda execution environment: ``python -m local.runtime <FunctionLogicalId>``, run with the project's
interpreter (.venv) and the function's environment (``_HANDLER``, ``LAMBDA_TASK_ROOT`` and the template's variables,
set by ``local.runner``).

It imports the handler once (the cold start), then answers invocations forever, one JSON line in, one JSON line out:

- in: ``{"request_id": "...", "deadline_ms": <epoch ms>, "event": {...}}``
- out: ``{"ready": true}`` once after init, then ``{"result": ...}`` or ``{"error": {<Lambda error payload>}}``;
  an init failure is ``{"init_error": {...}}`` followed by exit.

The protocol owns the process's original stdout; fd 1 is pointed at stderr so that whatever the function prints or
logs (Powertools writes to stdout) lands in the log stream, as in Lambda, never in the protocol. The runner enforces
the timeout by killing this process, so nothing here watches the clock. Closing stdin ends the process.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any, TextIO


class LambdaContext:
    """The context object of the Python runtime (``awslambdaric``), attribute for attribute."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = (f"arn:aws:lambda:{env.get('AWS_REGION', 'us-east-1')}:123456789012:function:"
                                     f"{self.function_name}")
        # A string in the real runtime too.
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{self.function_name}")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def error_payload(error: BaseException, request_id: str, error_type: str | None = None) -> dict[str, Any]:
    """What Lambda returns for an unhandled exception in a Python function."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }


def _send(protocol: TextIO, message: dict[str, Any]) -> None:
    protocol.write(json.dumps(message) + "\n")
    protocol.flush()


def _load_handler() -> Any:
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    module_name, _, attribute = os.environ["_HANDLER"].rpartition(".")
    # As in Lambda, the function sees its own directory and the layer (installed in .venv), not the repository.
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != repository]
    for name in [name for name in sys.modules if name == "local" or name.startswith("local.")]:
        del sys.modules[name]  # this module keeps running; the function just cannot import it
    sys.path.insert(0, task_root)
    os.chdir(task_root)
    return getattr(importlib.import_module(module_name), attribute)


def _invoke(handler: Any, message: dict[str, Any]) -> dict[str, Any]:
    request_id = message["request_id"]
    log = sys.stderr
    log.write(f"START RequestId: {request_id} Version: $LATEST\n")
    started = time.monotonic()
    try:
        result = handler(message["event"], LambdaContext(request_id, message["deadline_ms"]))
        try:
            reply: dict[str, Any] = {"result": json.loads(json.dumps(result))}
        except (TypeError, ValueError) as error:
            reply = {"error": error_payload(error, request_id, "Runtime.MarshalError")}
            reply["error"]["errorMessage"] = f"Unable to marshal response: {error}"
    except Exception as error:  # noqa: BLE001 - the function's own failure, reported as Lambda reports it
        reply = {"error": error_payload(error, request_id)}
        log.write(f"[ERROR] {type(error).__name__}: {error}\n{''.join(traceback.format_exc())}")
    duration = (time.monotonic() - started) * 1000
    log.write(f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\n")
    log.flush()
    return reply


def main() -> int:
    # Ctrl+C reaches the whole process group; the runner decides when this environment ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        handler = _load_handler()
    except Exception as error:  # noqa: BLE001 - reported as Lambda's Runtime.ImportModuleError / init error
        error_type = "Runtime.ImportModuleError" if isinstance(error, ImportError) else f"Runtime.{type(error).__name__}"
        traceback.print_exc()
        payload = error_payload(error, "", error_type)
        if isinstance(error, ImportError):
            payload["errorMessage"] = f"Unable to import module '{os.environ['_HANDLER'].rpartition('.')[0]}': {error}"
        _send(protocol, {"init_error": payload})
        return 1
    _send(protocol, {"ready": True})
    for line in sys.stdin:
        if line.strip():
            _send(protocol, _invoke(handler, json.loads(line)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
