"""A dry run's plan: what a destructive request would do now, per key or version, in the outcome vocabulary
(docs/dry-run.md).

The plan predicts each targeted entry's outcome from what S3 shows without deleting (a listing, a HEAD, the bucket's
versioning and Object Lock configuration), by S3's own rules:
- an entry with a version id removes that version (``deleted``), unless Object Lock protects it
  (``blocked_by_retention``: a legal hold, or unexpired retention that governance bypass does not lift), or the key
  has no such version (``already_absent``: S3 would answer Deleted and delete nothing);
- an entry without a version id writes a delete marker on a bucket whose versioning was ever enabled
  (``delete_marker_created``, whether or not the key exists: S3 writes one either way), and removes the object on
  an unversioned bucket (``deleted``), or finds nothing there (``already_absent``).
Requests that S3 would refuse whatever the keys (the bucket is gone, a policy denies) are refused by the dry run the
same way, before any plan is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from eraser.storage.conditions import StoredObject
from eraser.storage.gateway import BucketGateway, S3Error
from eraser.storage.outcomes import Outcome, is_retained

SAMPLE_SIZE = 100
# The outcomes that remove something or hide it behind a marker: what a plan "would delete".
DELETING_OUTCOMES = frozenset({Outcome.DELETED, Outcome.DELETE_MARKER_CREATED})


class LeaveReason(StrEnum):
    """Why a targeted entry would be left in place."""

    LEGAL_HOLD = "legal_hold"
    OBJECT_LOCK_RETENTION = "object_lock_retention"
    ALREADY_ABSENT = "already_absent"


class PlannedEntry(BaseModel):
    """One entry of the plan's sample: a key (or one version of it), its would-be outcome, and why it would be
    left where it would."""

    model_config = ConfigDict(frozen=True)

    key: str
    version_id: str | None = None
    outcome: Outcome
    reason: LeaveReason | None = None


class WouldDelete(BaseModel):
    # Current objects that would be removed or hidden behind a delete marker.
    objects: int = 0
    # Versions (an unversioned object is its ``null`` version) whose data would be removed.
    versions: int = 0
    delete_markers: int = 0
    multipart_uploads: int = 0
    bytes: int = 0


class WouldLeave(BaseModel):
    object_lock_retention: int = 0
    legal_hold: int = 0
    # A purge works on what the bucket held when it was asked for; versions written later are not targeted. A dry
    # run is asked for now, so it counts none; the field is there for the tasks that carry it.
    newer_than_request: int = 0
    # Noncurrent versions and delete markers not yet past the bucket's trash retention (trash purges).
    newer_than_trash_retention: int = 0
    # A bucket deletion would keep the bucket because something in it would be left.
    bucket: bool = False


class Plan(BaseModel):
    """What a dry run answers (docs/dry-run.md, "What a dry run answers")."""

    complete: bool = True
    would_delete: WouldDelete = Field(default_factory=WouldDelete)
    would_leave: WouldLeave = Field(default_factory=WouldLeave)
    outcomes: dict[str, int] = Field(default_factory=dict)
    sample: list[PlannedEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Prediction:
    outcome: Outcome
    reason: LeaveReason | None = None


def predict_version(version: StoredObject | None, *, bypass_governance: bool = False) -> Prediction:
    """The outcome of deleting one version by its id. ``version`` is what a HEAD of it showed, where the bucket's
    Object Lock made that worth asking (None: the listing showed the version and nothing can protect it)."""
    if version is None or version.is_delete_marker:
        return Prediction(Outcome.DELETED)
    if not version.exists:
        return Prediction(Outcome.ALREADY_ABSENT, LeaveReason.ALREADY_ABSENT)
    if version.legal_hold:
        return Prediction(Outcome.BLOCKED_BY_RETENTION, LeaveReason.LEGAL_HOLD)
    if is_retained(version, bypass_governance=bypass_governance):
        return Prediction(Outcome.BLOCKED_BY_RETENTION, LeaveReason.OBJECT_LOCK_RETENTION)
    return Prediction(Outcome.DELETED)


def predict_key(*, versioned: bool, exists: bool) -> Prediction:
    """The outcome of deleting a key without a version id. ``versioned``: the bucket's versioning was ever enabled
    (Enabled or Suspended); ``exists``: the key has a current object."""
    if versioned:
        return Prediction(Outcome.DELETE_MARKER_CREATED)
    if not exists:
        return Prediction(Outcome.ALREADY_ABSENT, LeaveReason.ALREADY_ABSENT)
    return Prediction(Outcome.DELETED)


class EntryPlanner:
    """Predicts the outcome of deleting entries of one bucket, asking S3 once what the bucket is (versioning, Object
    Lock) and then only what each entry needs: a HEAD of a version where Object Lock could protect it, or of a key
    on an unversioned bucket whose existence nothing has shown yet (a key named in a request, not listed)."""

    def __init__(self, bucket: BucketGateway, *, bypass_governance: bool = False) -> None:
        self._bucket = bucket
        self._bypass_governance = bypass_governance
        self._versioned: bool | None = None
        self._lock_enabled: bool | None = None

    @property
    def versioned(self) -> bool:
        if self._versioned is None:
            self._versioned = self._bucket.versioning_was_ever_enabled()
        return self._versioned

    @property
    def lock_enabled(self) -> bool:
        if self._lock_enabled is None:
            self._lock_enabled = self._bucket.object_lock_enabled()
        return self._lock_enabled

    def predict(self, key: str, version_id: str | None, *, is_delete_marker: bool = False,
                listed: bool = False) -> Prediction:
        """``listed``: a listing has just shown this entry (so it exists); otherwise a check tells."""
        if version_id is not None:
            if is_delete_marker or (listed and not self.lock_enabled):
                return predict_version(None)
            return predict_version(self._head(key, version_id), bypass_governance=self._bypass_governance)
        if self.versioned:
            return predict_key(versioned=True, exists=listed)
        return predict_key(versioned=False, exists=listed or self._head(key, None).exists)

    def _head(self, key: str, version_id: str | None) -> StoredObject:
        try:
            return StoredObject.of_head(self._bucket.head_object(key, version_id=version_id))
        except S3Error as error:
            if error.found_delete_marker:
                return StoredObject(exists=True, is_delete_marker=True)
            if error.status in (400, 404):
                # 404: no such key or version; 400: a version id the bucket never issued (S3 on an unversioned
                # bucket), which names nothing either.
                return StoredObject(exists=False)
            raise


@dataclass(frozen=True)
class PlannedVersion:
    """One targeted entry with its prediction and what the listing said of it."""

    key: str
    version_id: str | None
    size: int
    is_delete_marker: bool
    is_latest: bool
    prediction: Prediction


class PlanTally:
    """Adds planned entries up into the numbers a plan reports; a task keeps the same numbers per chunk
    (``counts()``) so that they add up exactly across chunks."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._outcomes: dict[str, int] = {}
        self._sample_left: list[PlannedEntry] = []
        self._sample_deleted: list[PlannedEntry] = []

    def add(self, entry: PlannedVersion) -> None:
        outcome = entry.prediction.outcome
        self._outcomes[outcome.value] = self._outcomes.get(outcome.value, 0) + 1
        if outcome == Outcome.DELETED:
            if entry.is_delete_marker:
                self._bump("delete_markers")
            else:
                self._bump("versions")
                self._bump("bytes", entry.size)
                if entry.is_latest:
                    self._bump("objects")
        elif outcome == Outcome.DELETE_MARKER_CREATED and not entry.is_delete_marker:
            self._bump("objects")
        if entry.prediction.reason in (LeaveReason.LEGAL_HOLD, LeaveReason.OBJECT_LOCK_RETENTION):
            assert entry.prediction.reason is not None
            self._bump(entry.prediction.reason.value)
        planned = PlannedEntry(key=entry.key, version_id=entry.version_id, outcome=outcome,
                               reason=entry.prediction.reason)
        into = self._sample_deleted if outcome in DELETING_OUTCOMES else self._sample_left
        if len(into) < SAMPLE_SIZE:
            into.append(planned)

    def add_uploads(self, count: int) -> None:
        self._bump("multipart_uploads", count)

    def add_newer_than_trash_retention(self, count: int) -> None:
        self._bump("newer_than_trash_retention", count)

    def _bump(self, name: str, by: int = 1) -> None:
        if by:
            self._counts[name] = self._counts.get(name, 0) + by

    @property
    def entries(self) -> int:
        return sum(self._outcomes.values())

    def counts(self) -> dict[str, int]:
        """The planned numbers (``WouldDelete``'s and ``WouldLeave``'s fields), those not zero."""
        return dict(self._counts)

    def outcomes(self) -> dict[str, int]:
        return dict(self._outcomes)

    def plan(self, *, keeps_bucket: bool = False) -> Plan:
        return plan_of(self.counts(), self.outcomes(), self.sample(), keeps_bucket=keeps_bucket)

    def sample(self) -> list[PlannedEntry]:
        return sample_of(self._sample_left, self._sample_deleted)


def sample_of(left: Iterable[PlannedEntry], deleted: Iterable[PlannedEntry]) -> list[PlannedEntry]:
    """Up to ``SAMPLE_SIZE`` entries, those that would not be deleted first."""
    return [*left, *deleted][:SAMPLE_SIZE]


def plan_of(counts: Mapping[str, int], outcome_counts: Mapping[str, int], sample: list[PlannedEntry], *,
            complete: bool = True, keeps_bucket: bool = False) -> Plan:
    """The plan that ``counts`` and ``outcome_counts`` (a tally's, or a dry-run task's sums of its chunks') stand
    for. ``keeps_bucket``: the request deletes the bucket, which it cannot while anything is left in it."""
    def count(name: str) -> int:
        return int(counts.get(name, 0))

    outcomes = {outcome.value: int(outcome_counts.get(outcome.value, 0)) for outcome in Outcome
                if outcome_counts.get(outcome.value)}
    # Entries a deletion would leave in the bucket (an absent one leaves nothing).
    left = sum(number for outcome, number in outcomes.items()
               if Outcome(outcome) not in DELETING_OUTCOMES | {Outcome.ALREADY_ABSENT})
    return Plan(
        complete=complete,
        would_delete=WouldDelete(objects=count("objects"), versions=count("versions"),
                                 delete_markers=count("delete_markers"),
                                 multipart_uploads=count("multipart_uploads"), bytes=count("bytes")),
        would_leave=WouldLeave(object_lock_retention=count(LeaveReason.OBJECT_LOCK_RETENTION.value),
                               legal_hold=count(LeaveReason.LEGAL_HOLD.value),
                               newer_than_trash_retention=count("newer_than_trash_retention"),
                               bucket=keeps_bucket and (left > 0)),
        outcomes=outcomes,
        sample=sample,
    )
