"""Fixtures shared by every test. moto is imported before any boto3 client exists, and AWS_ENDPOINT_URL is unset so
that no test ever reaches a real or local backend by accident."""

from __future__ import annotations

import os

import moto  # noqa: F401  - must precede every boto3 client
import pytest

os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "EraserTest",
        "POWERTOOLS_SERVICE_NAME": "eraser",
        "POWERTOOLS_DEV": "false",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "JWT_SECRET": "test-jwt-secret-0123456789abcdef0123456789",
        "PURGE_WAIT_SECONDS": "0",
    }
)

from tests.delete_calls import s3_calls  # noqa: F401  - a fixture for every test: S3 calls counted by operation
from tests.support import AwsStack, Tenant, make_stack, make_tenant


@pytest.fixture
def stack() -> AwsStack:
    """A fresh moto backend with the template's tables and queues, and the functions' environment set."""
    with make_stack() as created:
        yield created


@pytest.fixture
def tenant(stack: AwsStack) -> Tenant:
    """An active organization with an all-scopes API key and one unversioned bucket ``photos``."""
    return make_tenant(stack, "acme")


@pytest.fixture
def other_tenant(stack: AwsStack) -> Tenant:
    return make_tenant(stack, "globex", account_id="210987654321")
