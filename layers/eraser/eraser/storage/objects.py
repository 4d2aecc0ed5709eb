"""Deleting one object, or one version of it, as S3's DeleteObject does: the request, the S3 calls on its key and the
rules below; ``eraser.operations.objects.delete_object`` takes them in order.

S3 itself decides almost everything (versioning, delete markers, the ``null`` version, MFA delete, Object Lock).
Eraser adds what S3 or moto leave to the caller:

- the bucket is looked up by name within the caller's organization (another organization's bucket is not found);
- ``x-amz-expected-bucket-owner`` is compared with the organization's account before S3 is touched (moto ignores
  ``ExpectedBucketOwner``); every call then names that account as ``ExpectedBucketOwner`` (the gateway's rule), so
  that real S3 checks it too, whether or not the client sent the header;
- the preconditions are judged on a HEAD of the current version (moto ignores size and time, and ``If-Match: *``;
  AWS honours size and time only on directory buckets), then the DELETE carries ``If-Match`` with the ETag that HEAD
  saw, which real S3 checks atomically. What can still slip between HEAD and DELETE: the object is overwritten with
  identical bytes (same ETag and size) and a new ``LastModified``, so a time condition judged the older copy;
- a version under Object Lock retention or legal hold is refused before the DELETE (S3 and moto refuse it too);
- a version that was a delete marker is reported as one (moto leaves out ``x-amz-delete-marker`` there);
- a DELETE naming a version is only sent once a HEAD or a listing has shown that this key has that version: moto
  deletes the current object when a bucket that is not versioning-Enabled gets an id it does not know;
- every S3 call goes through the bucket's gateway (``storage.gateway``), which names the organization's account as
  ``ExpectedBucketOwner``, attempts it once with botocore and retries it only while the invocation has time left;
  then 503.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, field_validator

from eraser.errors import (
    AccessDenied,
    BucketNotFound,
    BucketStateConflict,
    Conflict,
    InvalidArgument,
    KeyTooLong,
    NoSuchKey,
    PreconditionFailed,
    RateLimited,
    RetentionProtected,
    ServiceUnavailable,
)
from eraser.storage.conditions import DeleteConditions, StoredObject
from eraser.storage.gateway import BucketGateway, S3Error
from eraser.storage.keys import MAX_KEY_BYTES, utf8_length
from eraser.storage.retries import RETRY_AFTER_SECONDS, OutOfTime

# S3's version ids are opaque: today 32 URL-safe characters (letters, digits, '.' and '_'), older ones base64 (with
# '+', '/' and '='); moto's are UUIDs. An id that is neither form (a path such as "../../x" mixes both) can never name
# a version, and S3 answers it with this InvalidArgument.
_VERSION_ID = re.compile(r"^(?:[A-Za-z0-9._-]{1,1024}|[A-Za-z0-9+/=]{1,1024})$")
INVALID_VERSION_ID = "Invalid version id specified"


def well_formed_version_id(version_id: str) -> bool:
    return _VERSION_ID.match(version_id) is not None

# x-amz-mfa: the device's serial number (or ARN), one space, and the 6-digit code it shows.
_MFA = re.compile(r"^\S+ [0-9]{6}$")
LOCKED = "Access Denied because object protected by object lock."
# S3 answers SlowDown past 3,500 DELETEs per second per prefix; Eraser has already retried it with backoff.
S3_DELETES_PER_PREFIX_PER_SECOND = 3500
THROTTLING_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException"})
VERSIONS_PAGE_SIZE = 1000


class DeleteObjectRequest(BaseModel):
    """One DeleteObject request. The validators raise the domain's errors themselves (pydantic lets any exception that
    is not a ``ValueError`` through unchanged) because S3 answers each malformed input with its own code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str
    version_id: str | None = None
    conditions: DeleteConditions = DeleteConditions()
    expected_bucket_owner: str | None = None
    mfa: str | None = None
    requester_pays: bool = False
    bypass_governance_retention: bool = False

    @field_validator("key")
    @classmethod
    def _storable_key(cls, key: str) -> str:
        try:
            size = utf8_length(key)
        except ValueError as error:
            raise InvalidArgument("The object key is not valid UTF-8") from error
        if size == 0:
            raise InvalidArgument("The object key must not be empty")
        if size > MAX_KEY_BYTES:
            raise KeyTooLong(size)
        return key

    @field_validator("version_id")
    @classmethod
    def _well_formed_version_id(cls, version_id: str | None) -> str | None:
        if version_id is not None and not _VERSION_ID.match(version_id):
            raise InvalidArgument(INVALID_VERSION_ID)
        return version_id

    @field_validator("mfa")
    @classmethod
    def _well_formed_mfa(cls, mfa: str | None) -> str | None:
        if mfa is not None and not _MFA.match(mfa):
            raise InvalidArgument("x-amz-mfa must be the device's serial number, a space and its 6-digit code")
        return mfa


class DeleteObjectResult(BaseModel):
    """What S3's response headers report: a marker created or removed, the version concerned, requester charged."""

    model_config = ConfigDict(frozen=True)

    delete_marker: bool = False
    version_id: str | None = None
    request_charged: bool = False


class VersionNotNamed(Exception):
    """A HEAD with a ``versionId`` answered 200 about some other version: the backend ignored the id."""


def _names_version(requested: str, answered: str | None) -> bool:
    # S3 echoes the version a HEAD described in x-amz-version-id; an unversioned bucket's object has none (its
    # version is ``null``).
    return answered == requested or (requested == "null" and answered in (None, "null"))


class S3ObjectVersions:
    """HEAD, version lookup and DELETE of one key through the bucket's gateway, S3's failures (``S3Error``) turned
    into the domain's errors. The gateway retries each call while its deadline allows; past it, ``RateLimited``
    when S3 was throttling, else ``ServiceUnavailable``."""

    def __init__(self, bucket: BucketGateway, request: DeleteObjectRequest) -> None:
        self._bucket = bucket
        self._request = request

    @property
    def bucket(self) -> BucketGateway:
        return self._bucket

    @staticmethod
    def _in_time(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return call()
        except OutOfTime as error:
            if error.last_code in THROTTLING_CODES:
                raise RateLimited(S3_DELETES_PER_PREFIX_PER_SECOND, retry_after=RETRY_AFTER_SECONDS) from error
            raise ServiceUnavailable("S3 did not complete the request in time. Please try again.",
                                     retry_after=RETRY_AFTER_SECONDS) from error

    def head(self, version_id: str | None = None) -> StoredObject:
        request = self._request
        try:
            response = self._in_time(lambda: self._bucket.head_object(request.key, version_id=version_id,
                                                                      requester_pays=request.requester_pays))
        except S3Error as error:
            if error.found_delete_marker:
                return StoredObject(exists=True, is_delete_marker=True)
            if error.status == 404:
                return StoredObject(exists=False)
            self._raise_domain_error(error)
        if version_id is not None and not _names_version(version_id, response.get("VersionId")):
            raise VersionNotNamed(version_id)
        return StoredObject.of_head(response)

    def find_version(self, version_id: str) -> StoredObject:
        """The key's version ``version_id`` (``exists=False`` when the key has no such version).

        HEAD first: it carries the Object Lock fields. moto answers it 400 on a bucket whose versioning is not
        Enabled, where S3 accepts ``null`` (and any id once Suspended), and S3 answers 400 to an id it never issued
        on an unversioned bucket; SeaweedFS ignores the id on an unversioned bucket and describes the current
        object (200 without ``x-amz-version-id``). In both cases the key's versions are listed instead. Object Lock needs versioning Enabled
        (S3 refuses to suspend it on a lock-enabled bucket), so a listed version carries no lock.

        A backend that will not describe a version does not model versions either: moto's DELETE on a Suspended
        bucket drops every version of the key, whichever id it names. So a listed version is only deleted when it is
        the key's only one; otherwise ``BucketStateConflict`` (409), and nothing is deleted."""
        try:
            described = self.head(version_id)
        except (InvalidArgument, VersionNotNamed):
            found, versions_of_key = self._listed_version(version_id)
            if found.exists and versions_of_key > 1:
                raise BucketStateConflict("This backend cannot delete one of several versions of a key while the "
                                          "bucket's versioning is not Enabled; nothing was deleted.") from None
            return found
        if not described.exists:
            # S3 answers a HEAD of a delete marker by id 405; SeaweedFS answers 404 without x-amz-delete-marker, as
            # for no version at all. Only the listing tells a marker from nothing (and a DELETE is sent only for
            # what it shows).
            listed, _ = self._listed_version(version_id)
            if listed.is_delete_marker:
                return listed
        return described

    def _listed_version(self, version_id: str) -> tuple[StoredObject, int]:
        """The version as listed, and how many versions and delete markers the key has."""
        request = self._request
        found = StoredObject(exists=False)
        versions_of_key = 0
        markers: dict[str, str | None] = {}
        while True:
            try:
                page = self._in_time(functools.partial(
                    self._bucket.list_object_versions, prefix=request.key, max_keys=VERSIONS_PAGE_SIZE,
                    requester_pays=request.requester_pays, **markers))
            except S3Error as error:
                self._raise_domain_error(error)
            listed_other_key = False
            for kind, is_marker in (("Versions", False), ("DeleteMarkers", True)):
                for entry in page.get(kind, []):
                    if entry.get("Key") != request.key:
                        listed_other_key = True
                        continue
                    versions_of_key += 1
                    if entry.get("VersionId") == version_id:
                        found = StoredObject(exists=True, is_delete_marker=is_marker)
            # Keys come in ascending order and ``key`` is the smallest under its own prefix: once another key is
            # listed, every version of ``key`` has been.
            if listed_other_key or not page.get("IsTruncated"):
                return found, versions_of_key
            markers = {"key_marker": page.get("NextKeyMarker"), "version_id_marker": page.get("NextVersionIdMarker")}

    def delete(self, *, if_match: str | None) -> dict[str, Any]:
        request = self._request
        try:
            return self._in_time(lambda: self._bucket.delete_object(
                request.key, version_id=request.version_id, if_match=if_match, mfa=request.mfa,
                bypass_governance_retention=request.bypass_governance_retention,
                requester_pays=request.requester_pays))
        except S3Error as error:
            self._raise_domain_error(error)

    def _raise_domain_error(self, error: S3Error) -> NoReturn:
        code, message, status = error.code, error.message, error.status
        if code == "NoSuchBucket":
            raise BucketNotFound(self._request.bucket) from error
        if code == "NoSuchKey":
            raise NoSuchKey(self._request.key) from error
        if code == "PreconditionFailed" or status == 412:
            raise PreconditionFailed() from error
        if status == 409:
            # S3's ConditionalRequestConflict: a concurrent write or delete of the key won the race.
            raise Conflict("A conflicting conditional operation is currently in progress against this resource. "
                           "Please try again.") from error
        if code == "AccessDenied" or status == 403:
            raise AccessDenied(message or "Access Denied") from error
        if code == "InvalidArgument" or status == 400:
            # A HEAD's 400 has no body; with a versionId it is S3's "Invalid version id specified".
            raise InvalidArgument(message if message and code != "400" else INVALID_VERSION_ID) from error
        raise error


def ensure_not_locked(version: StoredObject, *, bypass_governance: bool, now: datetime | None = None) -> None:
    """S3's rule for deleting a version: a legal hold always protects it; unexpired COMPLIANCE retention always does;
    unexpired GOVERNANCE retention does unless the caller bypasses it."""
    if version.legal_hold:
        raise RetentionProtected(LOCKED)
    moment = now or datetime.now(UTC)
    if version.lock_mode and version.lock_retain_until and version.lock_retain_until > moment:
        if version.lock_mode == "GOVERNANCE" and bypass_governance:
            return
        raise RetentionProtected(LOCKED)
