"""boto3 clients, created lazily and once per process.

boto3 honours ``AWS_ENDPOINT_URL`` by itself, which is how the local stack points every client at its backend.
Retries use botocore's standard mode: S3 ``SlowDown`` (503) and DynamoDB throttling are retried with exponential
backoff and full jitter before any of our code sees them.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_RETRYING = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=50)


@functools.cache
def s3() -> Any:
    return boto3.client("s3", config=_RETRYING)


@functools.cache
def sqs() -> Any:
    return boto3.client("sqs", config=_RETRYING)


@functools.cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_RETRYING)


@functools.cache
def dynamodb_client() -> Any:
    return boto3.client("dynamodb", config=_RETRYING)


def table(name: str) -> Any:
    return dynamodb().Table(name)


def reset_clients() -> None:
    """Forget cached clients (tests switch backends between cases)."""
    for factory in (s3, sqs, dynamodb, dynamodb_client):
        factory.cache_clear()
