"""The one door to S3: every S3 call the domain makes goes through a ``BucketGateway`` (``aws.py`` creates the clients,
``admin.py``'s operator commands keep their own).

A gateway is one S3 bucket of one owner account: every call names that account as ``ExpectedBucketOwner``, so a
bucket registered by mistake in another account is refused by S3 (403) instead of being read or deleted from.

How a call is attempted (``open_bucket``):
- a synchronous request passes its ``Deadline``: botocore's single-attempt client (``aws.s3_single_attempt``), each
  call retried by Eraser as ``CALL_RETRY`` says while another attempt fits before the deadline, then ``OutOfTime``;
- the task engine and the read-only S3 routes pass none: botocore's retrying client (``aws.s3``), each call made once
  (botocore has retried it), or retried again as the worker's ``call_retry`` says.

S3's ``ClientError`` is read here and nowhere else: it becomes ``S3Error`` (code, HTTP status, message, and whether
retrying may help), so the rest of the domain never parses botocore's error dictionaries. What S3 answers is
returned as S3 gives it (a dict) where the domain reads many fields of it, as pages (``ObjectPage``,
``VersionPage`` of ``ListedVersion``) for the listings the task engine and trash walk.

``open_bucket`` is the seam: tests replace it (or pass ``client=``) and ``tests/fakes/s3_gateway.py`` is an
in-memory gateway that fails on cue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import botocore.exceptions
from botocore.exceptions import ClientError

from eraser import aws
from eraser.storage.retries import (
    CALL_BUDGET_SECONDS,
    CALL_RETRY,
    Deadline,
    OutOfTime,
    RetryPolicy,
    retryable_code,
)

Result = TypeVar("Result")

# ListObjectsV2, ListObjectVersions and DeleteObjects take or return at most 1000 entries per call.
S3_PAGE_MAX = 1000
REQUESTER = "requester"


class S3Error(Exception):
    """S3 refused a call. ``code`` is S3's error code (for a HEAD, which has no body, botocore names it by the HTTP
    status: "404", "400"); ``headers`` are the answer's HTTP headers (a HEAD's only way to say more)."""

    def __init__(self, code: str, status: int | None, message: str = "",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"S3 {code} ({status}): {message}" if message else f"S3 {code} ({status})")
        self.code = code
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, error: ClientError) -> S3Error:
        metadata = error.response.get("ResponseMetadata", {})
        status = metadata.get("HTTPStatusCode")
        return cls(str(error.response.get("Error", {}).get("Code") or ""),
                   int(status) if status is not None else None,
                   str(error.response.get("Error", {}).get("Message") or ""),
                   metadata.get("HTTPHeaders") or {})

    @property
    def retryable_code(self) -> str | None:
        """The code to report when retrying may help (SlowDown, InternalError...), else None."""
        return retryable_code(self.code, self.status)

    @property
    def retryable(self) -> bool:
        return self.retryable_code is not None

    @property
    def found_delete_marker(self) -> bool:
        """Whether a failed HeadObject says a delete marker is there. A HEAD answer has no body: S3 says "the current
        version is a marker" with 404 and ``x-amz-delete-marker: true``, and "this version is a marker" with 405."""
        return self.status == 405 or (self.status == 404 and self.headers.get("x-amz-delete-marker") == "true")


# Connection trouble is worth another attempt; S3 may or may not have acted on a call whose answer never came.
TRANSIENT_FAILURES = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


def _retryable_code_of(error: Exception) -> str | None:
    if isinstance(error, TRANSIENT_FAILURES):
        return "RequestTimeout"
    if isinstance(error, S3Error):
        return error.retryable_code
    return None


def call_before(deadline: Deadline, call: Callable[[], Result], *, retry: RetryPolicy = CALL_RETRY) -> Result:
    """``call()``, retried as ``retry`` says while its failure is transient and another attempt fits before
    ``deadline``; then ``OutOfTime``. Any other failure is raised unchanged."""
    last_code: str | None = None
    for attempt_number in range(retry.attempts):
        if attempt_number:
            if not retry.pause_before(attempt_number - 1, deadline):
                break
        elif not deadline.within(CALL_BUDGET_SECONDS):
            break
        try:
            return call()
        except Exception as error:
            code = _retryable_code_of(error)
            if code is None:
                raise
            last_code = code
    raise OutOfTime(last_code)


# --- pages ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListedVersion:
    """One entry of a listing page: an object version, or a delete marker (``size`` 0)."""

    key: str
    version_id: str | None
    size: int
    last_modified: datetime
    is_latest: bool
    is_delete_marker: bool


@dataclass(frozen=True)
class VersionPage:
    entries: list[ListedVersion]
    next_key_marker: str | None
    next_version_marker: str | None

    @property
    def is_last(self) -> bool:
        return self.next_key_marker is None


@dataclass(frozen=True)
class ObjectPage:
    entries: list[ListedVersion]
    continuation_token: str | None


def version_page_of(answer: Mapping[str, Any]) -> VersionPage:
    """A ``ListObjectVersions`` answer in S3's order (key ascending, newest version first), markers merged in."""
    entries = [ListedVersion(item["Key"], item.get("VersionId"), int(item.get("Size", 0)), item["LastModified"],
                             bool(item.get("IsLatest")), False) for item in answer.get("Versions", [])]
    entries += [ListedVersion(item["Key"], item.get("VersionId"), 0, item["LastModified"],
                              bool(item.get("IsLatest")), True) for item in answer.get("DeleteMarkers", [])]
    # S3 returns versions and delete markers in two lists; within a key the newest comes first.
    entries.sort(key=lambda entry: (entry.key, not entry.is_latest, -entry.last_modified.timestamp()))
    if answer.get("IsTruncated"):
        return VersionPage(entries, answer.get("NextKeyMarker"), answer.get("NextVersionIdMarker"))
    return VersionPage(entries, None, None)


def object_page_of(answer: Mapping[str, Any]) -> ObjectPage:
    entries = [ListedVersion(item["Key"], None, int(item.get("Size", 0)), item["LastModified"], True, False)
               for item in answer.get("Contents", [])]
    return ObjectPage(entries, answer.get("NextContinuationToken") if answer.get("IsTruncated") else None)


def _present(**arguments: Any) -> dict[str, Any]:
    return {name: value for name, value in arguments.items() if value is not None}


# --- the gateway ---------------------------------------------------------------------------------------------------
class BucketGateway:
    """One S3 bucket of one owner account; each method is one S3 operation (or, where named so, a bounded walk of
    pages), its ``ClientError`` raised as ``S3Error``."""

    def __init__(self, client: Any, s3_bucket: str, owner: str, *, deadline: Deadline | None = None,
                 call_retry: RetryPolicy | None = None) -> None:
        self._client = client
        self.s3_bucket = s3_bucket
        self.owner = owner
        self._deadline = deadline or Deadline.unbounded()
        self._call_retry = call_retry

    def _call(self, operation: str, **arguments: Any) -> dict[str, Any]:
        if self._call_retry is None:
            return self._attempt(operation, arguments)
        return call_before(self._deadline, lambda: self._attempt(operation, arguments), retry=self._call_retry)

    def _attempt(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """One attempt of one S3 call (``operation`` is boto3's method name): what an in-memory bucket replaces."""
        try:
            answer: dict[str, Any] = getattr(self._client, operation)(
                Bucket=self.s3_bucket, ExpectedBucketOwner=self.owner, **arguments)
        except ClientError as error:
            raise S3Error.of(error) from error
        return answer

    # --- listings --------------------------------------------------------------------------------------------------
    def list_objects(self, *, prefix: str | None = None, delimiter: str | None = None,
                     continuation_token: str | None = None, start_after: str | None = None,
                     max_keys: int = S3_PAGE_MAX) -> dict[str, Any]:
        """One ListObjectsV2 answer, as S3 gives it."""
        return self._call("list_objects_v2", **_present(Prefix=prefix, Delimiter=delimiter,
                                                        ContinuationToken=continuation_token,
                                                        StartAfter=start_after, MaxKeys=max_keys))

    def list_objects_page(self, *, prefix: str | None = None, continuation_token: str | None = None,
                          page_size: int = S3_PAGE_MAX) -> ObjectPage:
        """One page of current objects: on a versioned bucket a key whose latest version is a delete marker is
        already gone."""
        return object_page_of(self.list_objects(prefix=prefix, continuation_token=continuation_token or None,
                                                max_keys=page_size))

    def list_object_versions(self, *, prefix: str | None = None, delimiter: str | None = None,
                             key_marker: str | None = None, version_id_marker: str | None = None,
                             max_keys: int = S3_PAGE_MAX, requester_pays: bool = False) -> dict[str, Any]:
        """One ListObjectVersions answer, as S3 gives it."""
        return self._call("list_object_versions", **_present(
            Prefix=prefix, Delimiter=delimiter, KeyMarker=key_marker, VersionIdMarker=version_id_marker,
            MaxKeys=max_keys, RequestPayer=REQUESTER if requester_pays else None))

    def list_versions_page(self, *, key_marker: str | None = None, version_marker: str | None = None,
                           page_size: int = S3_PAGE_MAX, prefix: str | None = None) -> VersionPage:
        """One page of versions and delete markers. An unversioned bucket lists each object once with version id
        ``null``, which DeleteObjects accepts. A version id marker is only sent with a key marker."""
        return version_page_of(self.list_object_versions(
            prefix=prefix or None, key_marker=key_marker or None,
            version_id_marker=(version_marker or None) if key_marker else None, max_keys=page_size))

    # --- objects ---------------------------------------------------------------------------------------------------
    def head_object(self, key: str, *, version_id: str | None = None,
                    requester_pays: bool = False) -> dict[str, Any]:
        """HeadObject; a delete marker there is an ``S3Error`` whose ``found_delete_marker`` is True."""
        return self._call("head_object", **_present(Key=key, VersionId=version_id,
                                                    RequestPayer=REQUESTER if requester_pays else None))

    def delete_objects(self, entries: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        """One DeleteObjects call (``entries``: ``{"Key"[, "VersionId"]}``, at most 1000). Quiet=False: every key
        comes back as Deleted or Error, so a key counts as deleted only when S3 says so."""
        if len(entries) > S3_PAGE_MAX:
            raise ValueError(f"DeleteObjects takes at most {S3_PAGE_MAX} keys, not {len(entries)}")
        return self._call("delete_objects", Delete={"Objects": [dict(entry) for entry in entries], "Quiet": False})

    def delete_object(self, key: str, *, version_id: str | None = None, if_match: str | None = None,
                      mfa: str | None = None, bypass_governance_retention: bool = False,
                      requester_pays: bool = False) -> dict[str, Any]:
        """One DeleteObject call."""
        # BypassGovernanceRetention is only ever sent as true: moto takes any value of the header, "false"
        # included, as a bypass.
        return self._call("delete_object", **_present(
            Key=key, VersionId=version_id, MFA=mfa, IfMatch=if_match,
            BypassGovernanceRetention=True if bypass_governance_retention else None,
            RequestPayer=REQUESTER if requester_pays else None))

    # --- the bucket ------------------------------------------------------------------------------------------------
    def head_bucket(self) -> None:
        self._call("head_bucket")

    def bucket_exists(self) -> bool:
        try:
            self.head_bucket()
        except S3Error as error:
            if error.code in ("404", "NoSuchBucket"):
                return False
            raise
        return True

    def versioning_was_ever_enabled(self) -> bool:
        """False only for a bucket whose versioning was never enabled: it holds one version per key, and listing
        its current objects lists everything. A suspended bucket may still hold older versions."""
        return self._call("get_bucket_versioning").get("Status") in ("Enabled", "Suspended")

    def versioning_status(self) -> str | None:
        """"Enabled", "Suspended", or None for a bucket whose versioning was never enabled."""
        status = self._call("get_bucket_versioning").get("Status")
        return str(status) if status else None

    def object_lock_enabled(self) -> bool:
        """Whether Object Lock is on for the bucket (only then can a version carry a retention or a legal hold;
        S3 lets a bucket have it only from its creation, or once versioning is Enabled)."""
        try:
            answer = self._call("get_object_lock_configuration")
        except S3Error as error:
            if error.code == "ObjectLockConfigurationNotFoundError":
                return False
            raise
        return answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    def bucket_is_empty(self) -> bool:
        """True when no version and no delete marker is left (what DeleteBucket requires)."""
        answer = self.list_object_versions(max_keys=1)
        return not answer.get("Versions") and not answer.get("DeleteMarkers")

    def count_current_objects(self, *, cap: int) -> int | None:
        """The number of current objects when there are at most ``cap``, else None: counting stops at ``cap`` so a
        huge bucket is never listed on a request path. A bucket gone from S3 already holds 0."""
        counted = 0
        token: str | None = None
        while True:
            try:
                answer = self.list_objects(continuation_token=token, max_keys=min(cap - counted, S3_PAGE_MAX))
            except S3Error as error:
                if error.code == "NoSuchBucket":
                    return 0
                raise
            counted += len(answer.get("Contents", []))
            if not answer.get("IsTruncated"):
                return counted
            if counted >= cap:
                return None
            token = answer["NextContinuationToken"]

    def abort_multipart_uploads(self, *, initiated_before: datetime | None,
                                keep_going: Callable[[], bool]) -> tuple[int, bool]:
        """Abort incomplete multipart uploads (invisible to listings, billed, and they do not block DeleteBucket).

        Returns (aborted, finished): ``finished`` is False when ``keep_going`` asked to stop before the end."""
        aborted = 0
        markers: dict[str, Any] = {}
        while True:
            page = self._call("list_multipart_uploads", **markers)
            for upload in page.get("Uploads", []):
                if initiated_before is not None and upload["Initiated"] > initiated_before:
                    continue
                try:
                    self._call("abort_multipart_upload", Key=upload["Key"], UploadId=upload["UploadId"])
                    aborted += 1
                except S3Error as error:
                    # Completed or aborted meanwhile (or by a previous attempt of this step).
                    if error.code != "NoSuchUpload":
                        raise
            if not page.get("IsTruncated"):
                return aborted, True
            if not keep_going():
                return aborted, False
            markers = {"KeyMarker": page.get("NextKeyMarker"), "UploadIdMarker": page.get("NextUploadIdMarker")}

    def count_multipart_uploads(self, *, initiated_before: datetime | None) -> int:
        """The incomplete multipart uploads ``abort_multipart_uploads`` would abort, counted without aborting."""
        counted = 0
        markers: dict[str, Any] = {}
        while True:
            page = self._call("list_multipart_uploads", **markers)
            counted += sum(1 for upload in page.get("Uploads", [])
                           if initiated_before is None or upload["Initiated"] <= initiated_before)
            if not page.get("IsTruncated"):
                return counted
            markers = {"KeyMarker": page.get("NextKeyMarker"), "UploadIdMarker": page.get("NextUploadIdMarker")}

    def delete_bucket(self) -> None:
        self._call("delete_bucket")


def open_bucket(s3_bucket: str, owner: str, *, deadline: Deadline | None = None,
                call_retry: RetryPolicy | None = None, client: Any | None = None) -> BucketGateway:
    """The gateway to ``s3_bucket`` of account ``owner``. With a ``deadline`` (a synchronous request): the
    single-attempt client, each call retried as ``call_retry`` (default ``CALL_RETRY``) says within it. Without
    one: the retrying client, each call retried again only if ``call_retry`` is given. ``client`` replaces the
    boto3 client (tests)."""
    if deadline is not None:
        return BucketGateway(client or aws.s3_single_attempt(), s3_bucket, owner, deadline=deadline,
                             call_retry=call_retry or CALL_RETRY)
    return BucketGateway(client or aws.s3(), s3_bucket, owner, call_retry=call_retry)
