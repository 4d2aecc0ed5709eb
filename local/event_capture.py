"""Events the functions publish on the template's EventBridge buses, captured so they can be seen without AWS: a rule on
each bus sends Eraser's events to a queue of the local stack's own (not in the template), a thread drains it, prints
each event on one line and keeps it for ``GET /_local/events``."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

LOG = logging.getLogger("eraser.local.events")
RULE = "eraser-local-capture"
# Enough for any local session; the oldest are dropped beyond it.
KEPT_EVENTS = 10_000


class EventCapture:
    def __init__(self, sqs: Any, events: Any, bus_names: list[str], stage: str) -> None:
        self._sqs = sqs
        self._queue_url = str(sqs.create_queue(QueueName=f"eraser-{stage}-local-event-capture")["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for bus in bus_names:
            events.put_rule(Name=RULE, EventBusName=bus, EventPattern=json.dumps({"source": ["eraser"]}))
            events.put_targets(Rule=RULE, EventBusName=bus, Targets=[{"Id": "local-capture", "Arn": arn}])
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="event-capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def _drain(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10,
                                                     WaitTimeSeconds=1).get("Messages", [])
            except Exception:  # noqa: BLE001 - the backend stopping under a poll must not kill the thread noisily
                if self._stopping.wait(1):
                    return
                continue
            for message in messages:
                event = json.loads(message["Body"])
                self._keep(event)
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _keep(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._events.append(event)
            del self._events[:-KEPT_EVENTS]
        detail = event.get("detail", {})
        print(f"event {event.get('detail-type')}: task {detail.get('task_id')} {detail.get('state')} "
              f"{json.dumps(detail.get('counts', {}), separators=(',', ':'))}", flush=True)
