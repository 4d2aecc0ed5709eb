"""An in-memory S3 behind the real gateway, for tests of the domain (and a future simulator) without moto.

``FakeS3`` holds buckets of versions and the faults to answer with; ``FakeS3.open_bucket`` has the signature of
``storage.gateway.open_bucket`` and returns a ``FakeBucketGateway``: the real ``BucketGateway`` (its retries within
the deadline, its pages, its walks) with only one attempt of one S3 call (``_attempt``) answered from memory. So what
the domain sees is what the gateway gives it: ``S3Error`` for a refused call, ``OutOfTime`` once retries are spent.

Faults, on cue:
- ``fail_calls(operation, code, times)``: the next ``times`` attempts of a whole call fail (``SlowDown`` is a 503);
- ``fail_key(key, code, times)``: the next ``times`` DeleteObjects answers report ``key`` as an ``<Error>`` with
  ``code`` (inside a 200), and DeleteObject refuses it;
- ``on_call``: runs before each attempt (a test's clock advancing as S3 answers).
``calls`` records each attempt's operation (boto3's method name), as the bench counts S3 requests, and ``requests``
each with its arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eraser.storage import gateway
from eraser.storage.gateway import BucketGateway, S3Error
from eraser.storage.retries import CALL_RETRY, Deadline, RetryPolicy

OWNER = "123456789012"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_STATUS = {"SlowDown": 503, "ServiceUnavailable": 503, "InternalError": 500, "AccessDenied": 403,
           "NoSuchBucket": 404, "NoSuchKey": 404, "BucketNotEmpty": 409, "InvalidArgument": 400}


@dataclass
class StoredVersion:
    version_id: str
    last_modified: datetime
    size: int = 0
    is_delete_marker: bool = False


@dataclass
class FakeBucket:
    owner: str = OWNER
    versioning: str | None = None  # None (never enabled), "Enabled" or "Suspended"
    # Each key's versions, newest first.
    keys: dict[str, list[StoredVersion]] = field(default_factory=dict)


@dataclass
class FakeS3:
    buckets: dict[str, FakeBucket] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # Each attempt's operation with its arguments.
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    on_call: Callable[[str], None] | None = None
    _call_faults: dict[str, list[str]] = field(default_factory=dict)
    _key_faults: dict[str, tuple[str, float]] = field(default_factory=dict)
    _ticks: int = 0
    _ids: int = 0

    # --- arranging -------------------------------------------------------------------------------------------------
    def create_bucket(self, name: str, *, owner: str = OWNER, versioning: str | None = None) -> FakeBucket:
        self.buckets[name] = FakeBucket(owner=owner, versioning=versioning)
        return self.buckets[name]

    def put(self, bucket: str, key: str, size: int = 1) -> str:
        return self._write(self.buckets[bucket], key, size=size, marker=False)

    def fail_calls(self, operation: str, code: str, times: int = 1) -> None:
        self._call_faults.setdefault(operation, []).extend([code] * times)

    def fail_key(self, key: str, code: str, times: float = math.inf) -> None:
        self._key_faults[key] = (code, times)

    def count(self, operation: str) -> int:
        return self.calls.count(operation)

    def batches(self) -> list[list[str]]:
        """The keys of each DeleteObjects attempt."""
        return [[entry["Key"] for entry in arguments["Delete"]["Objects"]]
                for operation, arguments in self.requests if operation == "delete_objects"]

    def current_keys(self, bucket: str) -> list[str]:
        stored = self.buckets[bucket].keys
        return sorted(key for key, versions in stored.items() if versions and not versions[0].is_delete_marker)

    def versions(self, bucket: str) -> list[tuple[str, str, bool]]:
        return [(key, version.version_id, version.is_delete_marker)
                for key, versions in sorted(self.buckets[bucket].keys.items()) for version in versions]

    # --- the seam --------------------------------------------------------------------------------------------------
    def open_bucket(self, s3_bucket: str, owner: str, *, deadline: Deadline | None = None,
                    call_retry: RetryPolicy | None = None, client: Any | None = None) -> FakeBucketGateway:
        """``storage.gateway.open_bucket``, answered from memory (``client`` is ignored)."""
        if deadline is not None:
            return FakeBucketGateway(self, s3_bucket, owner, deadline=deadline, call_retry=call_retry or CALL_RETRY)
        return FakeBucketGateway(self, s3_bucket, owner, call_retry=call_retry)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeS3:
        """Every gateway the domain opens is this fake's."""
        monkeypatch.setattr(gateway, "open_bucket", self.open_bucket)
        return self

    # --- S3 --------------------------------------------------------------------------------------------------------
    def _tick(self) -> datetime:
        self._ticks += 1
        return EPOCH + timedelta(seconds=self._ticks)

    def _write(self, bucket: FakeBucket, key: str, *, size: int, marker: bool) -> str:
        versions = bucket.keys.setdefault(key, [])
        if bucket.versioning == "Enabled":
            self._ids += 1
            version_id = f"v{self._ids:06d}"
        else:
            version_id = "null"
            versions[:] = [version for version in versions if version.version_id != "null"]
        versions.insert(0, StoredVersion(version_id, self._tick(), 0 if marker else size, marker))
        return version_id

    def answer(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(operation)
        self.requests.append((operation, arguments))
        if self.on_call is not None:
            self.on_call(operation)
        pending = self._call_faults.get(operation)
        if pending:
            code = pending.pop(0)
            raise S3Error(code, _STATUS.get(code, 400), f"{code} (fake)")
        bucket = self.buckets.get(arguments["Bucket"])
        if bucket is None:
            raise S3Error("NoSuchBucket", 404, "The specified bucket does not exist")
        if arguments.get("ExpectedBucketOwner") != bucket.owner:
            raise S3Error("AccessDenied", 403, "Access Denied")
        handler: Callable[[FakeBucket, dict[str, Any]], dict[str, Any]] = getattr(self, f"_{operation}")
        return handler(bucket, arguments)

    def _key_refused(self, key: str) -> str | None:
        if key not in self._key_faults:
            return None
        code, times = self._key_faults[key]
        if times <= 0:
            return None
        self._key_faults[key] = (code, times - 1)
        return code

    def _delete(self, bucket: FakeBucket, key: str, version_id: str | None) -> dict[str, Any]:
        versions = bucket.keys.get(key, [])
        if version_id is not None:
            removed = next((version for version in versions if version.version_id == version_id), None)
            if removed is None:
                return {"VersionId": version_id}
            versions.remove(removed)
            return {"VersionId": version_id, "DeleteMarker": removed.is_delete_marker}
        if bucket.versioning is None:
            bucket.keys.pop(key, None)
            return {}
        marker = self._write(bucket, key, size=0, marker=True)
        return {"DeleteMarker": True, "VersionId": marker}

    def _delete_objects(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        deleted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for entry in arguments["Delete"]["Objects"]:
            key, version_id = entry["Key"], entry.get("VersionId")
            code = self._key_refused(key)
            if code is not None:
                errors.append({"Key": key, **({"VersionId": version_id} if version_id else {}), "Code": code,
                               "Message": f"{code} (fake)"})
                continue
            answer = self._delete(bucket, key, version_id)
            item: dict[str, Any] = {"Key": key, **({"VersionId": version_id} if version_id else {})}
            if answer.get("DeleteMarker") and version_id is None:
                item.update(DeleteMarker=True, DeleteMarkerVersionId=answer["VersionId"])
            elif answer.get("DeleteMarker"):
                item.update(DeleteMarker=True, DeleteMarkerVersionId=version_id)
            deleted.append(item)
        return {"Deleted": deleted, "Errors": errors}

    def _delete_object(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        code = self._key_refused(arguments["Key"])
        if code is not None:
            raise S3Error(code, _STATUS.get(code, 400), f"{code} (fake)")
        return self._delete(bucket, arguments["Key"], arguments.get("VersionId"))

    def _list_objects_v2(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        prefix = arguments.get("Prefix", "")
        after = arguments.get("ContinuationToken") or arguments.get("StartAfter") or ""
        current = [(key, versions[0]) for key, versions in sorted(bucket.keys.items())
                   if versions and not versions[0].is_delete_marker and key.startswith(prefix) and key > after]
        page = current[:arguments.get("MaxKeys", 1000)]
        answer: dict[str, Any] = {
            "Contents": [{"Key": key, "Size": version.size, "LastModified": version.last_modified}
                         for key, version in page],
            "IsTruncated": len(current) > len(page), "KeyCount": len(page)}
        if answer["IsTruncated"]:
            answer["NextContinuationToken"] = page[-1][0]
        return answer

    def _list_object_versions(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        prefix = arguments.get("Prefix", "")
        entries = [(key, index, version) for key, versions in sorted(bucket.keys.items()) if key.startswith(prefix)
                   for index, version in enumerate(versions)]
        key_marker = arguments.get("KeyMarker")
        if key_marker is not None:
            version_marker = arguments.get("VersionIdMarker")
            position = next((number for number, (key, _, version) in enumerate(entries)
                             if key == key_marker and version.version_id == version_marker), None)
            if position is not None:
                entries = entries[position + 1:]
            else:
                entries = [entry for entry in entries if entry[0] > key_marker]
        page = entries[:arguments.get("MaxKeys", 1000)]
        answer: dict[str, Any] = {"Versions": [], "DeleteMarkers": [], "IsTruncated": len(entries) > len(page)}
        for key, index, version in page:
            item = {"Key": key, "VersionId": version.version_id, "IsLatest": index == 0,
                    "LastModified": version.last_modified}
            if version.is_delete_marker:
                answer["DeleteMarkers"].append(item)
            else:
                answer["Versions"].append({**item, "Size": version.size})
        if answer["IsTruncated"]:
            answer["NextKeyMarker"], answer["NextVersionIdMarker"] = page[-1][0], page[-1][2].version_id
        return answer

    def _head_object(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        versions = bucket.keys.get(arguments["Key"], [])
        version_id = arguments.get("VersionId")
        found = next((version for version in versions if version.version_id == version_id), None) \
            if version_id is not None else (versions[0] if versions else None)
        if found is None:
            raise S3Error("404", 404, "")
        if found.is_delete_marker:
            if version_id is not None:
                raise S3Error("405", 405, "", {"x-amz-delete-marker": "true"})
            raise S3Error("404", 404, "", {"x-amz-delete-marker": "true"})
        return {"VersionId": found.version_id, "ContentLength": found.size, "LastModified": found.last_modified,
                "ETag": f'"{found.version_id}"'}

    def _get_bucket_versioning(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"Status": bucket.versioning} if bucket.versioning else {}

    def _head_bucket(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _list_multipart_uploads(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"Uploads": [], "IsTruncated": False}

    def _delete_bucket(self, bucket: FakeBucket, arguments: dict[str, Any]) -> dict[str, Any]:
        if any(bucket.keys.values()):
            raise S3Error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")
        del self.buckets[arguments["Bucket"]]
        return {}


class FakeBucketGateway(BucketGateway):
    """The real gateway, one attempt of each call answered by a ``FakeS3``."""

    def __init__(self, s3: FakeS3, s3_bucket: str, owner: str, *, deadline: Deadline | None = None,
                 call_retry: RetryPolicy | None = None) -> None:
        super().__init__(None, s3_bucket, owner, deadline=deadline, call_retry=call_retry)
        self.s3 = s3

    def _attempt(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.s3.answer(operation, {"Bucket": self.s3_bucket, "ExpectedBucketOwner": self.owner, **arguments})
