"""The reliability suite's stack: ``local.run`` whose functions reach moto through ``local.fault_proxy``, started once
per session on free loopback ports, and the figures the suite collects.

``reliable_stack`` is a ``ReliableStack``: the e2e ``LocalStack`` (its ``client()`` and ``admin()`` go straight to
moto, never through faults) plus ``proxy``, which tests cue with a ``FaultPlan`` and calm afterwards. The stack runs
with ``SyncDeleteLimit`` lowered so that a bulk delete becomes a task without tens of thousands of objects.

Figures (requests tried, 5xx seen, wrongful deletions, faults injected and survived, counts exact) are written at
the end of the session to ``.eraser/reliability/latest.json`` (or ``$ERASER_RELIABILITY_RESULTS``), which README's
Reliability section quotes.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.backend import moto_server
from local.fault_proxy import FaultProxy
from tests.e2e.conftest import PROJECT_PYTHON, ROOT, SAM_PYTHON, HttpResponse, LocalStack, running_local_stack

SYNC_DELETE_LIMIT = 500
RESULTS = Path(os.environ.get("ERASER_RELIABILITY_RESULTS") or ROOT / ".eraser" / "reliability" / "latest.json")
# A refusal is a 4xx, or S3's 501 NotImplemented for an operation the S3 route does not implement (S3's own answer).
NOT_IMPLEMENTED = 501


def is_refusal(response: HttpResponse) -> bool:
    return 400 <= response.status < 500 or (response.status == NOT_IMPLEMENTED and b"NotImplemented" in response.body)


def is_server_error(response: HttpResponse) -> bool:
    return response.status >= 500 and not is_refusal(response)


@dataclass
class Figures:
    """What the suite tried and saw, summed over the session, per part of the suite."""

    parts: dict[str, Counter[str]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def add(self, part: str, **counts: int) -> None:
        self.parts.setdefault(part, Counter()).update(counts)

    def document(self, started: float) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        for counts in self.parts.values():
            totals.update(counts)
        return {"finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "seconds": round(time.monotonic() - started, 1),
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "totals": dict(sorted(totals.items())),
                "parts": {part: dict(sorted(counts.items())) for part, counts in sorted(self.parts.items())},
                "fault_runs": self.runs}


_FIGURES = Figures()
_STARTED = time.monotonic()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return _FIGURES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _FIGURES.parts:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    document = {**_FIGURES.document(_STARTED), "pytest_exit_status": int(exitstatus)}
    RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nreliability figures: {RESULTS}\n{json.dumps(document['totals'])}", file=sys.stderr)


@dataclass(frozen=True)
class Tenant:
    organization_id: str
    sub_domain: str
    api_key: str
    buckets: dict[str, str]  # Eraser bucket name -> S3 bucket

    @property
    def auth(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key}


@dataclass(frozen=True)
class ReliableStack:
    stack: LocalStack
    proxy: FaultProxy

    def tenant(self, prefix: str, buckets: dict[str, str]) -> Tenant:
        """A fresh organization with an all-scopes key and buckets, ``{name: "plain" | "versioned" | "trash"}``."""
        sub_domain = f"{prefix}-{secrets.token_hex(3)}"
        organization = self.stack.admin("create-org", "--sub-domain", sub_domain, "--account-id", "123456789012")
        api_key = self.stack.admin("issue-key", "--org", organization["id"])["api_key"]
        created = {}
        for name, kind in buckets.items():
            flags = {"plain": [], "versioned": ["--versioned"], "trash": ["--trash"]}[kind]
            created[name] = self.stack.admin("register-bucket", "--org", organization["id"], "--name", name,
                                             "--create", *flags)["s3_bucket"]
        return Tenant(organization["id"], sub_domain, api_key, created)


@pytest.fixture(scope="session")
def reliable_stack() -> Iterator[ReliableStack]:
    if not SAM_PYTHON.exists() or not PROJECT_PYTHON.exists():
        pytest.skip("the project's environments (.venv, .venv-sam) are missing: make venv")
    with moto_server() as moto_url:
        proxy = FaultProxy(moto_url).start()
        environment = {"AWS_ENDPOINT_URL": proxy.url,
                       "ERASER_PARAMETER_OVERRIDES": f"SyncDeleteLimit={SYNC_DELETE_LIMIT}",
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing"}
        try:
            with running_local_stack(environment, name="reliability") as (state, log_path):
                # Setup and checks go straight to moto: only the functions' calls pass the proxy.
                direct = {**state["environment"], "AWS_ENDPOINT_URL": moto_url}
                try:
                    yield ReliableStack(LocalStack.from_state(state, log_path, endpoint_url=moto_url,
                                                              environment=direct), proxy)
                finally:
                    proxy.calm()  # the stack's shutdown is not faulted
        finally:
            proxy.stop()
