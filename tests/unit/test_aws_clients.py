"""The shared clients parse response timestamps with the standard library where S3 writes ISO 8601, and give the
same datetimes as botocore's own parser everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.utils import parse_timestamp

from eraser import aws


@pytest.mark.parametrize("value", [
    "2026-11-23T02:23:00.000Z",            # S3 XML bodies (ListObjectsV2, ListObjectVersions)
    "2026-11-23T02:23:00.123456+00:00",
    "2026-11-23T04:23:00+02:00",
    "Mon, 23 Nov 2026 02:23:00 GMT",       # HTTP dates (Last-Modified headers)
    1795400580.5,                           # epoch numbers (JSON protocols)
    "1795400580",
])
def test_fast_timestamp_agrees_with_botocore(value):
    parsed = aws.fast_timestamp(value)
    assert parsed == parse_timestamp(value)
    assert parsed.utcoffset() is not None


def test_a_timestamp_without_a_zone_is_left_to_botocore():
    # Whatever botocore makes of it (a naive datetime today), the shared clients make the same.
    parsed, botocores = aws.fast_timestamp("2026-11-23T02:23:00"), parse_timestamp("2026-11-23T02:23:00")
    assert (parsed, parsed.tzinfo) == (botocores, botocores.tzinfo)


def test_listing_pages_do_not_go_through_botocores_parser(stack, monkeypatch):
    stack.s3.create_bucket(Bucket="timestamps")
    for index in range(3):
        stack.s3.put_object(Bucket="timestamps", Key=f"k{index}", Body=b"x")
    expected = {item["Key"]: item["LastModified"]
                for item in boto3.client("s3").list_objects_v2(Bucket="timestamps")["Contents"]}
    calls: list[object] = []
    monkeypatch.setattr(aws, "parse_timestamp", lambda value: calls.append(value) or parse_timestamp(value))
    aws.reset_clients()
    listed = {item["Key"]: item["LastModified"] for item in aws.s3().list_objects_v2(Bucket="timestamps")["Contents"]}
    versions = aws.s3().list_object_versions(Bucket="timestamps")["Versions"]
    assert listed == expected and all(isinstance(value, datetime) for value in listed.values())
    assert {item["Key"]: item["LastModified"] for item in versions} == expected
    assert calls == []
    # A header timestamp still parses, through botocore's parser.
    head = aws.s3().head_object(Bucket="timestamps", Key="k0")
    assert head["LastModified"] == expected["k0"] and calls
    assert head["LastModified"].astimezone(UTC) == expected["k0"]
