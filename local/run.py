"""``make run``: the whole service on http://127.0.0.1:PORT, without Docker.

Runs in the SAM CLI's environment (.venv-sam) because it serves the template's routes with SAM CLI's own API Gateway
emulation (``LocalApigwService``, routes from SAM's ``ApiProvider``); the functions run in the project's environment
through ``local.runner``, the queues and schedules through ``local.event_sources``, on the backend of
``local.backend``. Task state events published on the template's bus are printed and served at ``GET /_local/events``
(``local.event_capture``). Writes what clients need (URL, demo key, backend endpoint, tables, queues) to ``.eraser/local.json``
(or ``--state-file`` / ``ERASER_LOCAL_STATE``) once the API is listening, and removes it on exit.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.backend import BACKENDS, Stack, backend, backend_name, provision_stack
from local.event_capture import EventCapture
from local.event_sources import EventSources, sources_from_template
from local.runner import Runner
from local.template import ROOT, TEMPLATE

DEFAULT_STATE_FILE = ROOT / ".eraser" / "local.json"
LOG = logging.getLogger("eraser.local")


RAW_HEADERS = "eraser.raw_headers"


def _keep_raw_headers() -> None:
    """werkzeug folds request headers into CGI variables, losing the client's case and joining repeated headers
    with commas; API Gateway keeps both. Keep the header lines as received in the WSGI environ."""
    from werkzeug.serving import WSGIRequestHandler

    if RAW_HEADERS in vars(WSGIRequestHandler):
        return
    make_environ = WSGIRequestHandler.make_environ

    def make_environ_with_raw_headers(self: Any) -> Any:
        environ = make_environ(self)
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ

    WSGIRequestHandler.make_environ = make_environ_with_raw_headers  # type: ignore[method-assign]
    setattr(WSGIRequestHandler, RAW_HEADERS, True)


def _proxy_headers(flask_request: Any, port: int, sam_headers: dict[str, list[str]]) -> dict[str, list[str]]:
    """The request's headers as API Gateway passes them: the client's names and repeats, plus X-Forwarded-For,
    X-Forwarded-Port, X-Forwarded-Proto and X-Amzn-Trace-Id."""
    raw = flask_request.environ.get(RAW_HEADERS)
    headers: dict[str, list[str]] = {}
    for name, value in raw if raw is not None else [(n, v) for n, values in sam_headers.items() for v in values]:
        headers.setdefault(name, []).append(value)
    by_lower_name = {name.lower(): name for name in headers}
    forwarded_for = by_lower_name.get("x-forwarded-for", "X-Forwarded-For")
    headers[forwarded_for] = [", ".join([*headers.get(forwarded_for, []), flask_request.remote_addr])]
    for name, value in (("X-Forwarded-Port", str(port)), ("X-Forwarded-Proto", flask_request.scheme)):
        headers[by_lower_name.get(name.lower(), name)] = [value]
    if "x-amzn-trace-id" not in by_lower_name:
        headers["X-Amzn-Trace-Id"] = [f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"]
    return headers


class _WithoutBody:
    """A Flask request whose body reads as empty, for SAM's event constructor; everything else is the request's."""

    def __init__(self, request: Any) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    def get_data(self, *args: Any, **kwargs: Any) -> bytes:
        return b""


def _read_body(flask_request: Any) -> bytes:
    """The request's body (cached for SAM's event constructor). A malformed chunked body is API Gateway's 400 before
    any function runs; werkzeug raises ``OSError`` on it, which SAM would answer with 502."""
    from werkzeug.exceptions import BadRequest, HTTPException

    try:
        return bytes(flask_request.get_data(cache=True))
    except (OSError, ValueError, HTTPException) as error:
        LOG.info("malformed request body: %s", error)
        from flask import Response

        response = Response(json.dumps({"message": "Bad Request"}), status=400, mimetype="application/json",
                            headers={"Connection": "close"})
        raise BadRequest(response=response) from error


def api_service(runner: Runner, stage: str, host: str, port: int, template: Path = TEMPLATE,
                events: EventCapture | None = None) -> Any:
    """SAM CLI's API Gateway emulation of every ``Api`` event of the template, invoking ``runner``; with ``events``,
    also ``GET /_local/events`` (not a route of the template: the captured events, oldest first)."""
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
    from samcli.lib.utils.stream_writer import StreamWriter
    from samcli.local.apigw.local_apigw_service import LocalApigwService

    class ApigwService(LocalApigwService):
        """SAM CLI's emulation, with the headers and request context API Gateway really sends: SAM computes
        ``requestId`` and ``requestTime`` once per process (default arguments), puts the resource template in
        ``path`` and a constant user agent in ``identity``, and sees headers through werkzeug."""

        def _generate_lambda_event(self, flask_request: Any, route: Any, method: str, endpoint: str) -> dict[str, Any]:
            body = _read_body(flask_request)
            try:
                event: dict[str, Any] = super()._generate_lambda_event(flask_request, route, method, endpoint)
            except UnicodeDecodeError:
                # SAM answers 502 to a text body that is not UTF-8, before any function runs; API Gateway hands it
                # to the function, which must refuse it itself. Passed base64-encoded, the bytes arrive unchanged.
                event = super()._generate_lambda_event(_WithoutBody(flask_request), route, method, endpoint)
                event.update(body=base64.b64encode(body).decode("ascii"), isBase64Encoded=True)
            context = event.get("requestContext") or {}
            if "resourcePath" in context:
                now = datetime.now(UTC)
                raw_path = flask_request.environ.get("RAW_URI") or flask_request.environ.get("REQUEST_URI") or ""
                context.update(requestId=str(uuid.uuid4()),
                               extendedRequestId=base64.b64encode(os.urandom(10)).decode(),
                               requestTimeEpoch=int(now.timestamp() * 1000),
                               requestTime=now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                               path=f"/{self.api.stage_name}{raw_path.split('?')[0] or flask_request.path}")
                context.setdefault("identity", {})["userAgent"] = flask_request.headers.get("User-Agent")
                headers = _proxy_headers(flask_request, self.port, event.get("multiValueHeaders") or {})
                event["multiValueHeaders"] = headers
                event["headers"] = {name: values[-1] for name, values in headers.items()}
            return event

        def create(self) -> None:
            super().create()
            if events is not None:
                from flask import jsonify

                self._app.add_url_rule("/_local/events", endpoint="_local_events", methods=["GET"],
                                       view_func=lambda: jsonify({"events": events.events()}))

    _keep_raw_headers()
    stacks, _ = SamLocalStackProvider.get_stacks(str(template), parameter_overrides={"Stage": stage})
    api = ApiProvider(stacks, cwd=str(ROOT)).api
    service = ApigwService(api=api, lambda_runner=runner, port=port, host=host,
                           stderr=StreamWriter(sys.stderr, auto_flush=True))
    service.create()
    for route in api.routes:
        LOG.info("%-7s %s -> %s", ",".join(route.methods), route.path, route.function_name)
    return service


def state_document(stack: Stack, demo: dict[str, Any], url: str, backend_kind: str = "moto") -> dict[str, Any]:
    bucket = demo["bucket"]["name"]
    return {
        "pid": os.getpid(),
        "url": url,
        "api_key": demo["api_key"],
        "organization_id": demo["organization_id"],
        "demo": demo,
        "curl": f"curl -i -X DELETE -H 'X-Api-Key: {demo['api_key']}' {url}/s3/{bucket}/hello.txt",
        "endpoint_url": stack.endpoint_url,
        "s3_endpoint_url": stack.aws_environment.get("AWS_ENDPOINT_URL_S3", stack.endpoint_url),
        "backend": backend_kind,
        "region": stack.aws_environment["AWS_REGION"],
        "stage": stack.stage,
        "jwt_secret": stack.jwt_secret,
        "tables": stack.tables(),
        "queues": stack.queues(),
        "events_url": f"{url}/_local/events",
        "environment": stack.environment,
    }


def _write_atomically(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
    os.replace(temporary, path)


def _announce_when_listening(host: str, port: int, state_file: Path, document: dict[str, Any]) -> None:
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            break
        time.sleep(0.05)
    _write_atomically(state_file, document)
    s3 = "" if document["s3_endpoint_url"] == document["endpoint_url"] else f", S3 on {document['s3_endpoint_url']}"
    print(f"\nEraser is running on {document['url']} (backend {document['endpoint_url']}{s3})\n"
          f"Demo API key: {document['api_key']}\n"
          f"Try:  {document['curl']}\n"
          f"State: {state_file}   Stop: Ctrl+C\n", flush=True)


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.run", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--backend", choices=BACKENDS, default=backend_name(),
                        help="moto for everything (default), or seaweedfs for S3 and moto for the rest "
                             "(or ERASER_LOCAL_BACKEND)")
    parser.add_argument("--stage", default="local", help="names the tables and queues (eraser-STAGE-...)")
    parser.add_argument("--state-file", type=Path,
                        default=Path(os.environ.get("ERASER_LOCAL_STATE") or DEFAULT_STATE_FILE))
    parser.add_argument("--schedule-speedup", type=float,
                        default=float(os.environ.get("ERASER_SCHEDULE_SPEEDUP", "1")),
                        help="divide rate(...) schedules by this factor (tests use a large one)")
    parser.add_argument("--parameter-overrides", default=os.environ.get("ERASER_PARAMETER_OVERRIDES", ""),
                        help="template parameters, 'Name=Value Name=Value' as sam deploy takes them "
                             "(tests lower SyncDeleteLimit)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    # Keep werkzeug's access log; quiet SAM's chatter (it warns "Lambda returned empty body!" on every 204).
    logging.getLogger("samcli").setLevel(logging.WARNING)
    logging.getLogger("samcli.local.apigw.local_apigw_service").setLevel(logging.ERROR)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # A shell starts background jobs (`make run &` in a script) with SIGINT ignored, and an ignored signal stays
    # ignored across exec: without this, Ctrl+C or `kill -INT` would not stop the stack.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    with socket.socket() as probe:
        try:
            probe.bind((args.host, args.port))
        except OSError:
            print(f"port {args.port} is in use: set PORT=<another port>", file=sys.stderr)
            return 2

    from samcli.local.docker.exceptions import ProcessSigTermException

    with contextlib.ExitStack() as cleanup:
        try:
            endpoint_url, aws_environment = cleanup.enter_context(backend(args.backend))
            LOG.info("backend %s (%s)", endpoint_url, args.backend)
            overrides = dict(item.split("=", 1) for item in args.parameter_overrides.split())
            stack = provision_stack(endpoint_url, aws_environment, stage=args.stage, parameter_overrides=overrides)
            demo = stack.seed_demo()
            runner = Runner(stack.function_specs())
            cleanup.callback(runner.stop)
            sources = EventSources(sources_from_template(stack.template, stack.resolver), runner.call, stack.sqs(),
                                   max_concurrency=runner.max_concurrency, speedup=args.schedule_speedup)
            sources.start()
            cleanup.callback(sources.stop)
            captured = EventCapture(stack.sqs(), stack.session().client("events", endpoint_url=endpoint_url),
                                    stack.event_buses(), args.stage)
            captured.start()
            cleanup.callback(captured.stop)
            service = api_service(runner, args.stage, args.host, args.port, events=captured)
            document = state_document(stack, demo, f"http://{args.host}:{args.port}", args.backend)
            cleanup.callback(lambda: args.state_file.unlink(missing_ok=True))
            threading.Thread(target=_announce_when_listening, daemon=True,
                             args=(args.host, args.port, args.state_file, document)).start()
            service.run()
        except (KeyboardInterrupt, ProcessSigTermException):
            pass
        LOG.info("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
