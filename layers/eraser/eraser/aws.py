"""boto3 clients, created lazily and once per process.

boto3 honours ``AWS_ENDPOINT_URL`` by itself, which is how the local stack points every client at its backend.
Retries use botocore's standard mode: S3 ``SlowDown`` (503) and DynamoDB throttling are retried with exponential
backoff and full jitter before any of our code sees them; except ``s3_single_attempt``, whose callers (API requests)
retry within the time their invocation has left.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.utils import parse_timestamp

_RETRYING = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=50)
# For S3 calls inside an API request: one attempt, short timeouts (botocore's default read timeout is 60 s), and the
# caller retries only while the invocation has time left (storage.gateway.call_before; CALL_BUDGET_SECONDS is
# these two timeouts plus a margin). botocore's own 8 attempts with backoff up to 20 s outlast a 28 s function.
_SINGLE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2, read_timeout=8,
                         max_pool_connections=50)


def fast_timestamp(value: Any) -> datetime:
    """Parse a response timestamp. botocore's default parser (dateutil) takes about 76 us a timestamp, so a
    1,000-entry listing page cost 76 ms of CPU on timestamps alone: half of a listing step's own time, in series
    with every page. S3's XML carries ISO 8601 (``2026-11-23T02:23:00.000Z``), which the standard library parses in
    well under a microsecond; anything else (HTTP dates in headers, epoch numbers, a timestamp without a zone) goes to
    botocore's parser as before."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    return parse_timestamp(value)


@functools.cache
def session() -> boto3.session.Session:
    """One session for every client, its response parsers using ``fast_timestamp`` (botocore's documented hook:
    ``ResponseParserFactory.set_parser_defaults``)."""
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=fast_timestamp)
    return boto3.session.Session(botocore_session=core)


@functools.cache
def s3() -> Any:
    return session().client("s3", config=_RETRYING)


@functools.cache
def s3_single_attempt() -> Any:
    return session().client("s3", config=_SINGLE_ATTEMPT)


@functools.cache
def sqs() -> Any:
    return session().client("sqs", config=_RETRYING)


@functools.cache
def kms() -> Any:
    return session().client("kms", config=_RETRYING)


@functools.cache
def dynamodb() -> Any:
    return session().resource("dynamodb", config=_RETRYING)


@functools.cache
def dynamodb_client() -> Any:
    return session().client("dynamodb", config=_RETRYING)


# DynamoDB refuses (ValidationException) a key attribute longer than these, in UTF-8, or text that is not UTF-8.
PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024


def fits_dynamodb_key(value: str, max_bytes: int) -> bool:
    """Whether ``value`` can be a key attribute. Ids and names from requests are looked up by key: one that cannot be
    a key cannot exist either, and asking DynamoDB would answer a hostile path or query with a 500 (moto does not
    check these limits on reads, DynamoDB does)."""
    try:
        return len(value.encode("utf-8")) <= max_bytes
    except UnicodeEncodeError:
        return False


@functools.cache
def table(name: str) -> Any:
    # boto3 builds a Table class from its resource model on every Table() call (about 0.5 ms); repositories are
    # created per request, so each table is built once per process.
    return dynamodb().Table(name)


def reset_clients() -> None:
    """Forget cached clients (tests switch backends between cases)."""
    for factory in (session, s3, s3_single_attempt, sqs, kms, dynamodb, dynamodb_client, table):
        factory.cache_clear()
