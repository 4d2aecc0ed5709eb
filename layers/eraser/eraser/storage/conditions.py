"""DeleteObject's preconditions (``If-Match``, ``x-amz-if-match-size``, ``x-amz-if-match-last-modified-time``) and
how they are read from headers and judged against what a HEAD of the object returned.

AWS honours the size and time headers only on directory buckets, and moto ignores them (and ``If-Match: *``), so
Eraser judges all three itself from a HEAD; ``delete_object`` then pins the ETag it saw so that S3 refuses the
DELETE if the object changed in between (see ``eraser.storage.objects``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pydantic import BaseModel, ConfigDict

from eraser.errors import InvalidArgument, NoSuchKey, PreconditionFailed

ANY_ETAG = "*"
# S3 types sizes as 64-bit longs (19 digits): a longer number matches no object, and past 4,300 digits int()
# refuses to parse it at all (a ValueError, which was a 500).
_SIZE = re.compile(r"^[0-9]{1,19}$")


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
    return int(_as_utc(wanted).timestamp()) == int(_as_utc(actual).timestamp())


def parse_if_match(value: str) -> str:
    etag = normalize_etag(value)
    if not etag:
        raise InvalidArgument("If-Match must be an ETag (quoted or not) or '*'")
    return value.strip()


def parse_size(value: str) -> int:
    """``x-amz-if-match-size``: a non-negative integer of bytes, digits only (no sign, no exponent, no spaces), at
    most 19 of them."""
    if not _SIZE.match(value):
        raise InvalidArgument("x-amz-if-match-size must be a non-negative integer (bytes)")
    return int(value)


def parse_http_date(value: str) -> datetime:
    """``x-amz-if-match-last-modified-time``: an RFC 1123 date (``Fri, 01 Mar 2024 12:00:00 GMT``, what S3 itself
    sends as ``Last-Modified``) or an ISO 8601 timestamp (``2024-03-01T12:00:00.000Z``, the QStorage page's example).
    A date without a zone is UTC."""
    text = value.strip()
    parsed: datetime | None = None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidArgument("x-amz-if-match-last-modified-time must be an HTTP date (RFC 1123) or ISO 8601 time")
    return _as_utc(parsed)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
