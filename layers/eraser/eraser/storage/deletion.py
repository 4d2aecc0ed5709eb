"""The one deletion loop: DeleteObjects in batches of at most 1000 entries, DeleteObject for keys XML cannot carry,
retries of what S3 failed with a retryable code, and one outcome per entry.

Every path that deletes S3 objects by the thousand runs through ``delete_keys`` / ``delete_versions``: bulk delete,
the S3 DeleteObjects route and the task engine's worker. They differ only in what they do after the last attempt:
a synchronous request reports the keys still failing (or hands them to a task when its time ran out); the worker
raises, so that SQS delivers the whole chunk again and it is counted once, later.

Two retries, nested, both with full-jitter backoff and never past the ``Deadline``:
- a whole call failing with a retryable code or a dropped connection is attempted again by the gateway
  (``storage.gateway``, as it was opened: ``CALL_RETRY`` within a request's deadline, the worker's policy); still
  failing, it raises ``OutOfTime``, and the loop stops with ``out_of_time`` set;
- DeleteObjects answers 200 with per-key ``<Error>`` entries, which botocore never retries: the keys failing with a
  retryable code are sent again (``RetryPolicy``). A whole call refused for good (AccessDenied from a policy or
  another owner, NoSuchBucket where the caller asked for it) fails every key of its batch with that code.
Which codes are retryable is said once, in ``storage.retries``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

from eraser.errors import BucketNotFound
from eraser.storage.conditions import StoredObject
from eraser.storage.gateway import BucketGateway, S3Error
from eraser.storage.keys import DELETE_OBJECTS_MAX_KEYS, fits_in_xml
from eraser.storage.outcomes import Outcome, confirm_retention, of_deleted, of_error
from eraser.storage.rate import PrefixRates, prefix_of
from eraser.storage.retries import Deadline, OutOfTime, RetryPolicy, is_retryable

LIST_PAGE_SIZE = 1000
# The code reported for a key S3 neither deleted nor failed (possible only if S3 broke its own contract); retryable,
# so the key is sent again.
UNCONFIRMED = "InternalError"
# S3's answer to more requests than a prefix's partition takes (503, or a key's code inside a DeleteObjects answer).
SLOW_DOWN = "SlowDown"
# The code of an entry left undeleted because the deadline stopped the loop (``out_of_time``), if S3 gave no code of
# its own.
OUT_OF_TIME_CODE = "ServiceUnavailable"


class KeyFailure(BaseModel):
    """One entry S3 did not delete, with S3's own code and message: what a synchronous answer reports per key and
    what a task keeps as its failure sample. ``outcome`` is read from the code unless given (a versioned AccessDenied
    becomes ``blocked_by_retention`` only once checked, see ``delete_versions``)."""

    model_config = ConfigDict(frozen=True)

    key: str
    version_id: str | None = None
    code: str
    message: str = ""
    outcome: Outcome = Outcome.FAILED

    @model_validator(mode="before")
    @classmethod
    def _outcome_of_code(cls, values: Any) -> Any:
        # Also how a failure sample stored before outcomes existed is read back.
        if isinstance(values, dict) and values.get("outcome") is None and "code" in values:
            return {**values, "outcome": of_error(str(values["code"]))}
        return values

    @property
    def retryable(self) -> bool:
        return is_retryable(self.code)


# --- S3 ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectTarget:
    """One entry of a DeleteObjects call: a key, or one version of it (``version_id``)."""

    key: str
    version_id: str | None = None


@dataclass(frozen=True)
class DeletedDetail:
    """What S3 reported for one deleted entry: a delete marker created or removed, and the version concerned."""

    delete_marker: bool = False
    delete_marker_version_id: str | None = None
    version_id: str | None = None
    # Told apart where the requested entry is known: DeleteMarker also reports a marker removed by its id.
    outcome: Outcome = Outcome.DELETED


Target = TypeVar("Target", bound=Hashable)


@dataclass
class AttemptOutcome(Generic[Target]):
    deleted: set[Target] = field(default_factory=set)
    failed: dict[Target, KeyFailure] = field(default_factory=dict)
    # S3's own report of each deleted entry, where it gave one (DeleteObjects answers; DeleteObject's headers).
    details: dict[Target, DeletedDetail] = field(default_factory=dict)
    # Set when time ran out: the keys neither deleted nor failed were not (or not knowingly) deleted. ``last_code`` is
    # S3's last retryable error (SlowDown...), if any.
    out_of_time: OutOfTime | None = None

    def left_of(self, keys: Sequence[Target]) -> list[Target]:
        return [key for key in keys if key not in self.deleted and key not in self.failed]

    @property
    def outcomes(self) -> dict[Target, Outcome]:
        """The outcome of each entry deleted or failed for good (the entries ``left_of`` names have none)."""
        answered: dict[Target, Outcome] = {key: self.details.get(key, DeletedDetail()).outcome
                                           for key in self.deleted}
        answered.update({key: failure.outcome for key, failure in self.failed.items() if key not in self.deleted})
        return answered


class ObjectStore(Protocol):
    def list_keys(self, prefix: str) -> Iterator[str]: ...

    def delete_batch(self, keys: Sequence[str]) -> AttemptOutcome[str]: ...

    def delete_singly(self, keys: Sequence[str]) -> AttemptOutcome[str]: ...


class S3ObjectStore:
    """The deletion loop's view of one bucket (a ``BucketGateway``, which names the owner account on every call and
    retries each call as it was opened to). ``bucket_label`` is the name the caller knows; the S3 name never
    appears in an error.

    A call still failing once the gateway's deadline has passed raises ``OutOfTime``; ``delete_singly`` reports it
    in its outcome instead, with the keys it deleted before.

    A request names its bucket, so a bucket gone from S3 is its ``BucketNotFound`` (404); a task's chunk outlives the
    request that made it, and with ``missing_bucket_fails_keys`` a bucket gone meanwhile fails every key of the
    call with S3's ``NoSuchBucket`` instead, like any other refusal of the whole call."""

    def __init__(self, bucket: BucketGateway, bucket_label: str, *, missing_bucket_fails_keys: bool = False,
                 rates: PrefixRates | None = None) -> None:
        self._bucket = bucket
        self._label = bucket_label
        self._missing_bucket_fails_keys = missing_bucket_fails_keys
        # With ``rates``, each DeleteObjects call waits for its prefix's rate and a SlowDown (of the call, or of a
        # key inside its answer) cuts that rate: a throttled prefix slows alone (storage.rate).
        self._rates = rates

    def list_keys(self, prefix: str) -> Iterator[str]:
        # Current objects only: on a versioned bucket a key whose latest version is a delete marker is already gone.
        # Paged by hand, not with botocore's paginator, so that each page is retried within the deadline.
        token: str | None = None
        while True:
            try:
                page = self._bucket.list_objects_page(prefix=prefix, continuation_token=token,
                                                      page_size=LIST_PAGE_SIZE)
            except S3Error as error:
                self._raise_if_bucket_missing(error)
                raise
            for item in page.entries:
                yield item.key
            if page.continuation_token is None:
                return
            token = page.continuation_token

    def _raise_if_bucket_missing(self, error: S3Error) -> None:
        if error.code == "NoSuchBucket" and not self._missing_bucket_fails_keys:
            raise BucketNotFound(self._label) from error

    def delete_batch(self, keys: Sequence[str]) -> AttemptOutcome[str]:
        return _by_key(self.delete_versions_batch([ObjectTarget(key) for key in keys]))

    def delete_singly(self, keys: Sequence[str]) -> AttemptOutcome[str]:
        return _by_key(self.delete_versions_singly([ObjectTarget(key) for key in keys]))

    def delete_versions_batch(self, targets: Sequence[ObjectTarget]) -> AttemptOutcome[ObjectTarget]:
        """One DeleteObjects call. A version id must only be sent once it is known to be the key's (moto deletes
        the current object for an id it does not know on a bucket that is not versioning-Enabled)."""
        if len(targets) > DELETE_OBJECTS_MAX_KEYS:
            raise ValueError(f"DeleteObjects takes at most {DELETE_OBJECTS_MAX_KEYS} keys, not {len(targets)}")
        prefix = prefix_of(targets[0].key) if targets else ""
        if self._rates is not None:
            self._rates.acquire(prefix, len(targets))
        try:
            # S3 reports a key that did not exist as Deleted (deleting is idempotent); so does Eraser.
            answer = self._bucket.delete_objects([_object_entry(target) for target in targets])
        except S3Error as error:
            if self._rates is not None and error.code == SLOW_DOWN:
                self._rates.throttled(prefix)
            self._raise_if_bucket_missing(error)
            # The whole call failed with an error retrying does not change: every key of the batch carries it, so
            # the caller still learns what the earlier batches deleted.
            return AttemptOutcome(failed={target: _failure(target, error.code or UNCONFIRMED, error.message)
                                          for target in targets})
        outcome: AttemptOutcome[ObjectTarget] = AttemptOutcome()
        for target, item, refused in _answered_targets(targets, answer.get("Deleted", []), answer.get("Errors", [])):
            if not refused:
                outcome.deleted.add(target)
                outcome.details[target] = DeletedDetail(
                    delete_marker=bool(item.get("DeleteMarker")),
                    delete_marker_version_id=item.get("DeleteMarkerVersionId"),
                    version_id=item.get("VersionId"),
                    outcome=of_deleted(by_version=target.version_id is not None,
                                       delete_marker=bool(item.get("DeleteMarker"))))
            elif target not in outcome.deleted:
                outcome.failed[target] = _failure(target, item.get("Code") or UNCONFIRMED, item.get("Message") or "")
        for target in targets:
            if target not in outcome.deleted and target not in outcome.failed:
                outcome.failed[target] = _failure(target, UNCONFIRMED, "S3 did not confirm the deletion of this key")
        if self._rates is not None:
            if any(failure.code == SLOW_DOWN for failure in outcome.failed.values()):
                self._rates.throttled(prefix)
            else:
                self._rates.succeeded(prefix, len(targets))
        return outcome

    def delete_versions_singly(self, targets: Sequence[ObjectTarget]) -> AttemptOutcome[ObjectTarget]:
        outcome: AttemptOutcome[ObjectTarget] = AttemptOutcome()
        for target in targets:
            try:
                answer = self._bucket.delete_object(target.key, version_id=target.version_id)
            except OutOfTime as error:
                outcome.out_of_time = error
                break
            except S3Error as error:
                self._raise_if_bucket_missing(error)
                outcome.failed[target] = _failure(target, error.code or UNCONFIRMED, error.message)
            else:
                outcome.deleted.add(target)
                marker = bool(answer.get("DeleteMarker"))
                outcome.details[target] = DeletedDetail(
                    delete_marker=marker,
                    delete_marker_version_id=answer.get("VersionId") if marker and target.version_id is None
                    else None,
                    version_id=target.version_id,
                    outcome=of_deleted(by_version=target.version_id is not None, delete_marker=marker))
        return outcome

    def head_version(self, key: str, version_id: str) -> StoredObject | None:
        """One version's Object Lock state (HeadObject), or None when S3 would not describe it."""
        try:
            answer = self._bucket.head_object(key, version_id=version_id)
        except (S3Error, OutOfTime):
            return None
        return StoredObject.of_head(answer)


def _failure(target: ObjectTarget, code: str, message: str) -> KeyFailure:
    return KeyFailure(key=target.key, version_id=target.version_id, code=code, message=message)


def _object_entry(target: ObjectTarget) -> dict[str, str]:
    if target.version_id is None:
        return {"Key": target.key}
    return {"Key": target.key, "VersionId": target.version_id}


def _answered_targets(targets: Sequence[ObjectTarget], deleted: list[dict[str, Any]], errors: list[dict[str, Any]]
                      ) -> Iterator[tuple[ObjectTarget, dict[str, Any], bool]]:
    """Each Deleted or Error item (True) of an answer with the requested entry it is about. S3 echoes ``VersionId`` for a
    versioned entry; for a key-only entry on a versioned bucket it may report the marker it created instead. Some
    backends leave ``VersionId`` out (moto in the error of a version under Object Lock; SeaweedFS when it removes a
    delete marker by id, naming it ``DeleteMarkerVersionId``, or deletes a ``null`` version): such an item is about
    the entry of its key it names as a marker, else the next entry of its key not answered yet."""
    requested = set(targets)
    unanswered: dict[str, list[ObjectTarget]] = {}
    for entry in targets:
        unanswered.setdefault(entry.key, []).append(entry)
    vague: list[tuple[dict[str, Any], bool]] = []
    for item, refused in [*((item, False) for item in deleted), *((item, True) for item in errors)]:
        key = item.get("Key", "")
        exact, key_only = ObjectTarget(key, item.get("VersionId")), ObjectTarget(key)
        about = exact if exact in requested else key_only if key_only in requested else None
        if about is not None:
            _take(unanswered, about)
            yield about, item, refused
        elif item.get("VersionId") is None:
            vague.append((item, refused))
    for item, refused in vague:
        left = unanswered.get(item.get("Key", ""), [])
        named = ObjectTarget(item.get("Key", ""), item.get("DeleteMarkerVersionId"))
        guessed = named if named in left else left[0] if left else None
        if guessed is not None:
            _take(unanswered, guessed)
            yield guessed, item, refused


def _take(unanswered: dict[str, list[ObjectTarget]], target: ObjectTarget) -> None:
    left = unanswered.get(target.key, [])
    if target in left:
        left.remove(target)


def _by_key(outcome: AttemptOutcome[ObjectTarget]) -> AttemptOutcome[str]:
    return AttemptOutcome(deleted={target.key for target in outcome.deleted},
                          failed={target.key: failure for target, failure in outcome.failed.items()},
                          details={target.key: detail for target, detail in outcome.details.items()},
                          out_of_time=outcome.out_of_time)


# --- retries ---------------------------------------------------------------------------------------------------------
# Keys S3 failed one by one inside a 200 answer (botocore only retries whole calls): a short backoff.
PER_KEY_RETRY = RetryPolicy()


def _attempt_with_retries(attempt: Callable[[Sequence[Target]], AttemptOutcome[Target]], keys: Sequence[Target],
                          retry: RetryPolicy, deadline: Deadline) -> AttemptOutcome[Target]:
    total: AttemptOutcome[Target] = AttemptOutcome()
    pending = list(keys)
    last_code: str | None = None
    for attempt_number in range(1, retry.attempts + 1):
        try:
            outcome = attempt(pending)
        except OutOfTime as error:
            total.out_of_time = OutOfTime(error.last_code or last_code)
            break
        total.deleted |= outcome.deleted
        total.details.update(outcome.details)
        retryable = [key for key in pending if key in outcome.failed and outcome.failed[key].retryable]
        for key, failure in outcome.failed.items():
            if not failure.retryable or attempt_number == retry.attempts:
                total.failed[key] = failure
        if outcome.out_of_time is not None:
            total.out_of_time = OutOfTime(outcome.out_of_time.last_code or last_code)
            break
        if not retryable or attempt_number == retry.attempts:
            break
        last_code = outcome.failed[retryable[-1]].code
        if not retry.pause_before(attempt_number - 1, deadline):
            total.out_of_time = OutOfTime(last_code)
            break
        pending = retryable
    return total


def _chunks(keys: Sequence[Target], size: int) -> Iterator[Sequence[Target]]:
    for start in range(0, len(keys), size):
        yield keys[start:start + size]


def _delete_in_batches(batch: Callable[[Sequence[Target]], AttemptOutcome[Target]],
                       singly: Callable[[Sequence[Target]], AttemptOutcome[Target]], targets: Sequence[Target],
                       key_of: Callable[[Target], str], retry: RetryPolicy | None,
                       deadline: Deadline | None) -> AttemptOutcome[Target]:
    policy = retry or PER_KEY_RETRY
    time_left = deadline or Deadline.unbounded()
    total: AttemptOutcome[Target] = AttemptOutcome()
    batchable = [target for target in targets if fits_in_xml(key_of(target))]
    unbatchable = [target for target in targets if not fits_in_xml(key_of(target))]
    parts = [(batch, chunk) for chunk in _chunks(batchable, DELETE_OBJECTS_MAX_KEYS)]
    if unbatchable:
        parts.append((singly, unbatchable))
    for attempt, part in parts:
        outcome = _attempt_with_retries(attempt, part, policy, time_left)
        total.deleted |= outcome.deleted
        total.failed.update(outcome.failed)
        total.details.update(outcome.details)
        if outcome.out_of_time is not None:
            total.out_of_time = outcome.out_of_time
            break
    return total


def delete_keys(store: ObjectStore, keys: Sequence[str], retry: RetryPolicy | None = None,
                deadline: Deadline | None = None) -> AttemptOutcome[str]:
    """Delete ``keys`` (already unique): DeleteObjects in batches of at most 1000, DeleteObject for keys XML cannot
    carry. Once ``deadline`` stops the work, the outcome's ``out_of_time`` is set and the keys it neither deleted
    nor failed were left as they were (or deleted by an attempt whose answer never came)."""
    return _delete_in_batches(store.delete_batch, store.delete_singly, keys, lambda key: key, retry, deadline)


def delete_versions(store: S3ObjectStore, targets: Sequence[ObjectTarget], retry: RetryPolicy | None = None,
                    deadline: Deadline | None = None) -> AttemptOutcome[ObjectTarget]:
    """Delete ``targets`` (already unique; every version id checked to be its key's) the way ``delete_keys`` does.
    A version S3 refused with AccessDenied is checked with a HEAD: under a legal hold or unexpired retention, its
    outcome is ``blocked_by_retention`` (the loop never sends a governance bypass)."""
    total = _delete_in_batches(store.delete_versions_batch, store.delete_versions_singly, targets,
                               lambda target: target.key, retry, deadline)
    for target, failure in list(total.failed.items()):
        confirmed = confirm_retention(failure.outcome, target.version_id, partial(store.head_version, target.key))
        if confirmed != failure.outcome:
            total.failed[target] = failure.model_copy(update={"outcome": confirmed})
    return total


