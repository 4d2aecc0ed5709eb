"""``make invoke FN=<FunctionLogicalId> EVENT=events/<file>.json``: ``sam local invoke`` without Docker.

Invokes one function once, in the project's environment, against the running local stack's backend if
``.eraser/local.json`` (or ``ERASER_LOCAL_STATE``) names one that answers, otherwise against a moto server started
for the call (with the template's tables and queues and the demo tenant). ``${DEMO_API_KEY}`` anywhere in the event
is replaced by the demo API key, so event files need not carry a real key. Prints the function's response as JSON on
stdout (logs go to stderr); exits 1 if the invocation failed (exception or timeout), as the Invoke API's
``FunctionError`` would say.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from local.backend import backend, is_listening, provision_stack
from local.run import DEFAULT_STATE_FILE
from local.runner import Runner

DEMO_KEY_PLACEHOLDER = "${DEMO_API_KEY}"


def _running_stack(state_file: Path) -> dict[str, Any] | None:
    if not state_file.exists():
        return None
    state = json.loads(state_file.read_text(encoding="utf-8"))
    return state if is_listening(state["endpoint_url"]) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__)
    parser.add_argument("function", help="the function's logical id in template.yaml, e.g. DeleteObjectFunction")
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/delete_object.json")
    parser.add_argument("--state-file", type=Path,
                        default=Path(os.environ.get("ERASER_LOCAL_STATE") or DEFAULT_STATE_FILE))
    args = parser.parse_args(argv)
    event_text = args.event.read_text(encoding="utf-8")

    with contextlib.ExitStack() as cleanup:
        state = _running_stack(args.state_file)
        if state:
            print(f"using the running local stack (backend {state['endpoint_url']})", file=sys.stderr)
            aws_environment = {name: value for name, value in state["environment"].items() if name.startswith("AWS_")}
            stack = provision_stack(state["endpoint_url"], aws_environment, stage=state["stage"],
                                    jwt_secret=state["jwt_secret"])
            api_key = state["api_key"]
        else:
            endpoint_url, aws_environment = cleanup.enter_context(backend())
            print(f"no local stack is running: using a fresh backend at {endpoint_url}", file=sys.stderr)
            stack = provision_stack(endpoint_url, aws_environment)
            api_key = stack.seed_demo()["api_key"]
        specs = stack.function_specs()
        if args.function not in specs:
            print(f"no function {args.function} in template.yaml; choose from {sorted(specs)}", file=sys.stderr)
            return 2
        runner = Runner(specs)
        cleanup.callback(runner.stop)
        outcome = runner.call(args.function, json.loads(event_text.replace(DEMO_KEY_PLACEHOLDER, api_key)))
        print(json.dumps(outcome.payload, indent=2, ensure_ascii=False))
        return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
