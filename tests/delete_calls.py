"""Counts the S3 calls that delete, whichever client makes them: the proof that a dry run deleted nothing.

Patched at botocore's ``BaseClient._make_api_call``, the one method every client call goes through, so a client
created before the test (a cached one in ``eraser.aws``) or inside the code under test (the gateway's) is counted
too; the call still goes to moto.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient

from tests.s3bridge import ENDPOINT as ERASER_S3_ENDPOINT

DELETING_OPERATIONS = frozenset({"DeleteObject", "DeleteObjects", "AbortMultipartUpload", "DeleteBucket"})


class S3Calls:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    @property
    def deleting(self) -> int:
        return sum(count for operation, count in self.counts.items() if operation in DELETING_OPERATIONS)

    def reset(self) -> None:
        self.counts.clear()


@pytest.fixture
def s3_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Calls]:
    calls = S3Calls()
    real = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        # A client aimed at Eraser's own S3 endpoint (tests.s3bridge) is the caller, not a call to S3.
        if client.meta.service_model.service_name == "s3" and client.meta.endpoint_url != ERASER_S3_ENDPOINT:
            calls.counts[operation] += 1
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    yield calls
