"""moto's server as ``python -m moto.server`` runs it, with DynamoDB's operations serialized.

moto's ``TransactWriteItems`` deep-copies every table it touches and, when a condition fails, restores that copy,
with no lock: a write acknowledged by another request thread in between is silently undone. DynamoDB never loses an
acknowledged write, so the embedded backend handles one DynamoDB request at a time (S3, SQS and the rest stay
concurrent). ``ERASER_LOCAL_DYNAMODB_LOCK=0`` turns that off (only the test that shows the loss does so).

It also keeps nothing after a delete: moto appends every model instance it ever creates (each S3 ``FakeKey`` with
its body buffer, each DynamoDB item, SQS message...) to a class-level ``instances_tracked`` list, for its dashboard
(``/moto-api/``), and never drops them; a long ``make run`` grew to gigabytes after some 300,000 objects written and
deleted. The embedded server does not track them (the dashboard's data is empty).

Runs in the project's environment (moto lives there), started by ``local.backend``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerializedDynamoDB:
    """WSGI middleware: requests whose ``X-Amz-Target`` is a DynamoDB operation run one at a time; the response
    body is produced inside the lock too (moto builds it lazily for some operations)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET_PREFIX):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def stop_tracking_model_instances() -> Callable[[], None]:
    """Stop moto from keeping every model instance alive; returns what restores its behaviour."""
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import reset_model_data

    tracked_new = BaseModel.__dict__["__new__"]
    BaseModel.__new__ = staticmethod(_untracked_new)  # type: ignore[method-assign]
    reset_model_data()

    def restore() -> None:
        BaseModel.__new__ = tracked_new  # type: ignore[method-assign]

    return restore


def moto_application(serialize_dynamodb: bool = True) -> WsgiApp:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    return SerializedDynamoDB(app) if serialize_dynamodb else app


def main(argv: list[str] | None = None) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog="python -m local.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(0))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    stop_tracking_model_instances()
    serialize = os.environ.get("ERASER_LOCAL_DYNAMODB_LOCK", "1") != "0"
    run_simple(args.host, args.port, moto_application(serialize), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
