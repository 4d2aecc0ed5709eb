"""DeleteObject's preconditions (``If-Match``, ``x-amz-if-match-size``, ``x-amz-if-match-last-modified-time``) and
how they are judged against what a HEAD of the object returned (``eraser.api.s3request`` reads them from headers).

AWS honours the size and time headers only on directory buckets, and moto ignores them (and ``If-Match: *``), so
Eraser judges all three itself from a HEAD; ``delete_object`` then pins the ETag it saw so that S3 refuses the
DELETE if the object changed in between (see ``eraser.operations.objects.delete_object``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from eraser.errors import NoSuchKey, PreconditionFailed

ANY_ETAG = "*"


class StoredObject(BaseModel):
    """What S3 says about the current version of a key (or one version of it): the fields conditions and Object Lock
    are judged on. ``exists`` is false for a missing key or version, ``is_delete_marker`` for a marker."""

    model_config = ConfigDict(frozen=True)

    exists: bool
    is_delete_marker: bool = False
    etag: str | None = None
    size: int | None = None
    last_modified: datetime | None = None
    lock_mode: str | None = None
    lock_retain_until: datetime | None = None
    legal_hold: bool = False

    @classmethod
    def of_head(cls, response: Mapping[str, Any]) -> StoredObject:
        """What a successful HeadObject answered."""
        return cls(
            exists=True,
            etag=response.get("ETag"),
            size=response.get("ContentLength"),
            last_modified=response.get("LastModified"),
            lock_mode=response.get("ObjectLockMode"),
            lock_retain_until=response.get("ObjectLockRetainUntilDate"),
            legal_hold=response.get("ObjectLockLegalHoldStatus") == "ON",
        )


class DeleteConditions(BaseModel):
    """The preconditions of one DeleteObject request; all given ones must hold."""

    model_config = ConfigDict(frozen=True)

    if_match: str | None = None
    size: int | None = None
    last_modified: datetime | None = None

    @property
    def any(self) -> bool:
        return self.if_match is not None or self.size is not None or self.last_modified is not None

    def check(self, key: str, current: StoredObject) -> None:
        """Raise ``NoSuchKey`` when there is no object to judge (missing, or its current version is a delete marker:
        moto's answer, and AWS's for ``If-Match``), ``PreconditionFailed`` when a condition does not hold."""
        if not current.exists or current.is_delete_marker:
            raise NoSuchKey(key)
        if self.if_match is not None and not etag_matches(self.if_match, current.etag or ""):
            raise PreconditionFailed()
        if self.size is not None and current.size != self.size:
            raise PreconditionFailed()
        if self.last_modified is not None and not same_second(self.last_modified, current.last_modified):
            raise PreconditionFailed()


def normalize_etag(etag: str) -> str:
    """An ETag without surrounding whitespace and quotes: S3 accepts ``If-Match`` quoted or not."""
    text = etag.strip()
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    return text


def etag_matches(expected: str, actual: str) -> bool:
    wanted = normalize_etag(expected)
    return wanted == ANY_ETAG or wanted == normalize_etag(actual)


def same_second(wanted: datetime, actual: datetime | None) -> bool:
    """S3 reports ``Last-Modified`` to the second (an HTTP date), so the comparison is at second precision."""
    if actual is None:
        return False
    return int(as_utc(wanted).timestamp()) == int(as_utc(actual).timestamp())


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a datetime without a zone is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
