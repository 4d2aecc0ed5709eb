"""What the trash routes do: list a bucket's trash, restore keys from it, purge every trash of the organization
(Katapult's purge_all), and the scheduled purge of the trash past its retention.

The purges create ``trash_purge`` tasks with a ``TRASH(superseded_before)`` selection: the engine deletes only
noncurrent versions and delete markers trashed at or before that instant, never a current version. The instant is
fixed when the task is created, so what is trashed afterwards is not purged by that task.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

from eraser import trash
from eraser.auth import Principal
from eraser.clock import new_id, utc_now
from eraser.errors import OrganizationNotFound
from eraser.observability import logger
from eraser.operations.tasks import DryRun, preview
from eraser.ratelimit import LimitedOperation, enforce_rate_limit
from eraser.storage.keys import ObjectKey
from eraser.storage.plan import Plan
from eraser.storage.retries import Deadline as Deadline  # handlers bound their work with it (Deadline.of)
from eraser.tasks import Selection, Task, TaskKind, create_task, record_completed_task
from eraser.tenancy import Bucket, Organization, TenancyRepository
from eraser.trash import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_RESTORE_KEYS,
    SCHEDULE_REQUESTER,
    RestoreResult,
    TrashPage,
    retention_cutoff,
    trash_buckets,
    whole_seconds,
)


# --- requests --------------------------------------------------------------------------------------------------------
class TrashListQuery(BaseModel):
    """Query string of ``GET /v1/trash`` (API Gateway passes strings; ``page_size`` is parsed as an integer)."""

    model_config = ConfigDict(extra="ignore")

    bucket: StrictStr = Field(min_length=1, max_length=255)
    page_token: StrictStr | None = Field(default=None, min_length=1)
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class RestoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: StrictStr = Field(min_length=1, max_length=255)
    keys: list[ObjectKey] = Field(min_length=1, max_length=MAX_RESTORE_KEYS)

    @field_validator("keys")
    @classmethod
    def _distinct_keys(cls, keys: list[str]) -> list[str]:
        if len(set(keys)) != len(keys):
            raise ValueError("keys must not repeat")
        return keys


class OrganizationLookup(BaseModel):
    """``organization[]``: its parameters are mutually exclusive, exactly one must be given (a JSON null counts as
    given: it is a wrong type, not an absence)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    sub_domain: StrictStr | None = Field(default=None, min_length=1, max_length=63)

    @model_validator(mode="after")
    def _exactly_one(self) -> OrganizationLookup:
        given = self.model_fields_set
        if len(given) != 1:
            raise ValueError("exactly one of organization[id] and organization[sub_domain] must be provided")
        (name,) = given
        if getattr(self, name) is None:
            raise ValueError(f"organization[{name}] must be a string")
        return self


class PurgeAllTrashRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    organization: OrganizationLookup

# --- listing and restoring -------------------------------------------------------------------------------------------
def list_trash(principal: Principal, query: TrashListQuery, *,
               tenancy: TenancyRepository | None = None) -> tuple[Bucket, TrashPage]:
    """One page of the trash of the caller's organization's bucket ``query.bucket``, and that bucket."""
    bucket = (tenancy or TenancyRepository()).find_bucket(principal.organization.id, query.bucket)
    return bucket, trash.list_trash(bucket, principal.organization.account_id, query.page_token, query.page_size)


def restore(principal: Principal, request: RestoreRequest, *,
            tenancy: TenancyRepository | None = None) -> tuple[Bucket, RestoreResult]:
    """Bring ``request.keys`` of the caller's organization's bucket ``request.bucket`` back from trash."""
    bucket = (tenancy or TenancyRepository()).find_bucket(principal.organization.id, request.bucket)
    return bucket, trash.restore(bucket, principal.organization.account_id, request.keys)


# --- purges ----------------------------------------------------------------------------------------------------------
Clock = Callable[[], datetime]


def trash_cutoff(moment: datetime) -> datetime:
    """The ``superseded_before`` for "trash as of ``moment``". S3 reports ``LastModified`` in whole seconds and the
    engine's selection is inclusive ("at or before"), so a version trashed later in ``moment``'s own second would
    read as trashed at that second: the cutoff is the end of the previous whole second, which can only keep a
    version trashed just before ``moment``, never purge one trashed after it."""
    return whole_seconds(moment) - timedelta(microseconds=1)


def own_organization(principal: Principal, organization_id: str | None, sub_domain: str | None) -> Organization:
    """The organization named in the request, which must be the caller's own. Any other (existing or not) is
    ``OrganizationNotFound``: a caller cannot tell another organization's id from a typo, and nothing of another
    organization is ever purged."""
    own = principal.organization
    if organization_id is not None and organization_id == own.id:
        return own
    if sub_domain is not None and sub_domain == own.sub_domain:
        return own
    raise OrganizationNotFound()


def purge_all_trash(principal: Principal, request: PurgeAllTrashRequest, *,
                    tenancy: TenancyRepository | None = None, clock: Clock = utc_now) -> Task:
    """Start one task purging the trash of every trash-enabled bucket of the caller's organization, as of now."""
    organization = own_organization(principal, request.organization.id, request.organization.sub_domain)
    buckets = trash_buckets((tenancy or TenancyRepository()).list_buckets(organization.id))
    selection = Selection.trash(superseded_before=trash_cutoff(clock()))
    # Counted here, where a task is created (also the completed one below): a request naming another organization
    # creates nothing and is not counted.
    enforce_rate_limit(LimitedOperation.PURGE_ALL_TRASH, principal)
    if not buckets:
        # No trash-enabled bucket, no trash: the answer is still a task (the page promises one, clients poll it).
        return record_completed_task(organization, TaskKind.TRASH_PURGE, principal.subject, selection)
    return create_task(organization, TaskKind.TRASH_PURGE, buckets, requested_by=principal.subject,
                       selection=selection)


def preview_purge_all_trash(principal: Principal, request: PurgeAllTrashRequest, *, deadline: Deadline,
                            tenancy: TenancyRepository | None = None, clock: Clock = utc_now) -> DryRun:
    """What purging all the organization's trash would do now (``dry_run=true``), rate-limited as the purge."""
    organization = own_organization(principal, request.organization.id, request.organization.sub_domain)
    buckets = trash_buckets((tenancy or TenancyRepository()).list_buckets(organization.id))
    enforce_rate_limit(LimitedOperation.PURGE_ALL_TRASH, principal)
    return preview(organization, TaskKind.TRASH_PURGE, buckets, Selection.trash(superseded_before=trash_cutoff(clock())),
                   principal.subject, deadline=deadline)


# --- scheduled purges ------------------------------------------------------------------------------------------------
class ScheduledPurge(BaseModel):
    organization_id: str
    bucket_id: str
    superseded_before: datetime
    task_id: str | None = None
    # True when another task already holds the bucket (a previous run's purge still going): nothing was started.
    already_running: bool = False
    error: str | None = None
    # A dry run (run by hand): what the purge would do now, or the dry-run task (``task_id``) that finds out.
    plan: Plan | None = None


class ScheduledRun(BaseModel):
    requested_by: str
    dry_run: bool = False
    started_at: datetime
    purges: list[ScheduledPurge]

    @property
    def started(self) -> int:
        if self.dry_run:
            return 0
        return sum(1 for purge in self.purges if purge.task_id and not purge.already_running)

    @property
    def skipped(self) -> int:
        return sum(1 for purge in self.purges if purge.already_running)

    @property
    def failed(self) -> int:
        return sum(1 for purge in self.purges if purge.error)


def purge_expired_trash(*, tenancy: TenancyRepository | None = None, clock: Clock = utc_now,
                        dry_run: bool = False, deadline: Deadline | None = None) -> ScheduledRun:
    """For every organization, start one exclusive purge task per trash-enabled bucket, selecting the trash older
    than the bucket's retention (the organization's when the bucket sets none). A bucket whose previous purge still
    runs holds the engine's per-bucket lock, so an overlapping run starts nothing there. One bucket's failure is
    recorded and the others still get their purge. With ``dry_run`` (an operator running the schedule by hand),
    each bucket's purge is previewed instead and nothing is deleted."""
    tenancy = tenancy or TenancyRepository()
    now = clock()
    requested_by = f"{SCHEDULE_REQUESTER}:{new_id('run')}"
    purges: list[ScheduledPurge] = []
    for organization in tenancy.list_organizations():
        for bucket in trash_buckets(tenancy.list_buckets(organization.id)):
            cutoff = trash_cutoff(retention_cutoff(bucket, organization, now))
            purge = ScheduledPurge(organization_id=organization.id, bucket_id=bucket.id, superseded_before=cutoff)
            selection = Selection.trash(superseded_before=cutoff)
            if dry_run:
                answer = preview(organization, TaskKind.TRASH_PURGE, [bucket], selection, requested_by,
                                 deadline=deadline or Deadline.unbounded())
                purge.plan, purge.task_id = answer.plan, answer.task.id if answer.task else None
                purges.append(purge)
                continue
            try:
                task = create_task(organization, TaskKind.TRASH_PURGE, [bucket], requested_by=requested_by,
                                   selection=selection, exclusive=True)
            except Exception as error:  # noqa: BLE001 - one bucket's failure must not stop the others' purges
                logger.exception("Scheduled trash purge not started", extra={"bucket_id": bucket.id})
                purge.error = f"{type(error).__name__}: {error}"
            else:
                purge.task_id = task.id
                # The engine answers an exclusive request on a locked bucket with the task that holds the lock,
                # which another requester (another run, or a user's purge) created.
                purge.already_running = task.requested_by != requested_by
            purges.append(purge)
    return ScheduledRun(requested_by=requested_by, dry_run=dry_run, started_at=now, purges=purges)
