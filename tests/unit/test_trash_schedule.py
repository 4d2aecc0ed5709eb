"""The scheduled purge: per trash-enabled bucket, only trash past its retention (the bucket's, else the
organization's), one purge per bucket at a time, started by a valid EventBridge scheduled event.

moto stamps LastModified with its own clock, so old trash is made by shifting that clock while writing (``s3_clock``):
the objects really are that old as far as S3's listing says, and the purge runs at the real present."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from eraser.clock import new_id, utc_now
from eraser.operations.trash import purge_expired_trash, trash_cutoff
from eraser.tasks import Selection, TaskKind, TaskStatus, create_task, get_task
from eraser.tenancy import BucketConfiguration, Organization, TenancyRepository
from tests.support import load_event, register_bucket
from tests.tasks_harness import TaskHarness, assert_owner_on_every_call, engine_fixture  # noqa: F401
from tests.unit.test_trash_purge_all import s3_clock, trash

SCHEDULED = "scheduled_trash_purge"


def run_schedule(event=None):
    from tests.support import invoke

    return invoke(SCHEDULED, event or load_event(f"{SCHEDULED}.json"))


def trashed_days_ago(tenant, bucket, key, days):
    with s3_clock(timedelta(days=-days - 1)):
        tenant.put(key, f"{key} v1", bucket=bucket)
    with s3_clock(timedelta(days=-days)):
        trash(tenant, bucket, key)


def left(tenant, bucket):
    """(key, is delete marker) of every version still in the bucket."""
    return sorted((key, marker) for key, _, marker in tenant.versions(bucket))


@pytest.fixture
def aged(tenant):
    """Organization retention 30 days (the default); ``org-default`` follows it, ``short`` keeps 7 days."""
    org_default = tenant.add_bucket("org-default", configuration=BucketConfiguration(trash_enabled=True))
    short = tenant.add_bucket("short", configuration=BucketConfiguration(trash_enabled=True, trash_retention_days=7))
    plain = tenant.add_bucket("plain", versioned=True)
    for bucket in (org_default, short, plain):
        with s3_clock(timedelta(days=-100)):
            tenant.put("live.txt", b"live", bucket=bucket)
        for days in (40, 20, 3):
            trashed_days_ago(tenant, bucket, f"trashed-{days}d.txt", days)
    return org_default, short, plain


def test_scheduled_purge_removes_only_trash_past_each_buckets_retention(stack, tenant, aged, engine):
    org_default, short, plain = aged
    plain_before = tenant.versions(plain)

    result = run_schedule()
    TaskHarness(stack).drain()

    assert (result["started"], result["already_running"], result["failed"]) == (2, 0, 0)
    assert left(tenant, org_default) == [("live.txt", False), ("trashed-20d.txt", False), ("trashed-20d.txt", True),
                                         ("trashed-3d.txt", False), ("trashed-3d.txt", True)]
    assert left(tenant, short) == [("live.txt", False), ("trashed-3d.txt", False), ("trashed-3d.txt", True)]
    assert tenant.versions(plain) == plain_before  # no trash configured: versions are the owner's history
    for purge in result["purges"]:
        task = get_task(purge["task_id"])
        assert (task.kind, task.status) == (TaskKind.TRASH_PURGE, TaskStatus.COMPLETED)
        assert task.requested_by == result["requested_by"]  # "schedule:trash-purge:<run id>"
        assert len(task.targets) == 1
    assert_owner_on_every_call(engine, tenant)


def test_the_boundary_is_the_retention_to_the_second(stack, tenant, engine):
    """Trash a little older than the retention goes, a little younger stays."""
    bucket = tenant.add_bucket("edge", configuration=BucketConfiguration(trash_enabled=True, trash_retention_days=1))
    with s3_clock(timedelta(days=-3)):
        for key in ("older.txt", "younger.txt"):
            tenant.put(key, bucket=bucket)
    with s3_clock(timedelta(days=-1, seconds=-30)):
        trash(tenant, bucket, "older.txt")
    with s3_clock(timedelta(days=-1, seconds=30)):
        trash(tenant, bucket, "younger.txt")

    run_schedule()
    TaskHarness(stack).drain()

    assert left(tenant, bucket) == [("younger.txt", False), ("younger.txt", True)]


def test_retention_defaults_to_the_organizations(stack, engine):
    organization = Organization(id=new_id("org"), sub_domain="keeper", account_id="123456789012",
                                trash_retention_days=60, created_at=utc_now())
    TenancyRepository().put_organization(organization)
    bucket = register_bucket(organization, "bin", configuration=BucketConfiguration(trash_enabled=True))
    from tests.support import Tenant

    tenant = Tenant(organization=organization, api_key="", bucket=bucket, s3=stack.s3)
    trashed_days_ago(tenant, bucket, "kept-50d.txt", 50)
    trashed_days_ago(tenant, bucket, "gone-70d.txt", 70)

    result = run_schedule()
    TaskHarness(stack).drain()

    assert left(tenant, bucket) == [("kept-50d.txt", False), ("kept-50d.txt", True)]
    (purge,) = result["purges"]
    assert purge["superseded_before"].startswith((utc_now() - timedelta(days=60)).date().isoformat())


def test_an_overlapping_run_does_not_start_a_second_purge_of_the_same_bucket(stack, tenant, aged, engine):
    first = run_schedule()
    second = run_schedule()  # the first run's tasks have not been worked on yet: they hold their buckets

    assert (second["started"], second["already_running"]) == (0, 2)
    assert sorted(p["task_id"] for p in second["purges"]) == sorted(p["task_id"] for p in first["purges"])
    TaskHarness(stack).drain()
    third = run_schedule()  # once they finished, the buckets are free again
    assert third["started"] == 2


def test_a_bucket_held_by_another_exclusive_task_is_skipped(stack, tenant, engine):
    bucket = tenant.add_bucket("bin", configuration=BucketConfiguration(trash_enabled=True))
    holder = create_task(tenant.organization, TaskKind.PURGE_BUCKET, [bucket], requested_by="someone",
                         selection=Selection.everything(), exclusive=True)

    result = run_schedule()

    (purge,) = result["purges"]
    assert (purge["task_id"], purge["already_running"]) == (holder.id, True)


def test_one_buckets_failure_does_not_stop_the_others(stack, tenant, aged, engine, monkeypatch):
    import eraser.operations.trash as purge_module

    real = purge_module.create_task

    def refuse_short(organization, kind, targets, **arguments):
        if targets[0].name == "short":
            raise RuntimeError("injected")
        return real(organization, kind, targets, **arguments)

    monkeypatch.setattr(purge_module, "create_task", refuse_short)
    result = run_schedule()

    assert (result["started"], result["failed"]) == (1, 1)
    assert [p["error"] for p in result["purges"] if p["error"]] == ["RuntimeError: injected"]


def test_the_event_file_is_a_valid_scheduled_event_and_anything_else_is_refused(stack, tenant):
    event = load_event(f"{SCHEDULED}.json")
    assert (event["version"], event["detail-type"], event["source"]) == ("0", "Scheduled Event", "aws.events")
    with pytest.raises(ValidationError):
        run_schedule({"hello": "world"})


def test_cutoff_never_reaches_into_its_own_second():
    moment = utc_now().replace(microsecond=400_000)
    assert trash_cutoff(moment) < moment.replace(microsecond=0)
    assert moment.replace(microsecond=0) - trash_cutoff(moment) == timedelta(microseconds=1)


def test_purge_expired_trash_takes_an_injectable_clock(stack, tenant, engine):
    bucket = tenant.add_bucket("bin", configuration=BucketConfiguration(trash_enabled=True, trash_retention_days=2))
    tenant.put("a.txt", bucket=bucket)
    trash(tenant, bucket, "a.txt")  # trashed now

    run = purge_expired_trash(clock=lambda: utc_now() + timedelta(days=2, minutes=1))  # two days later
    TaskHarness(stack).drain()

    assert run.started == 1
    assert tenant.versions(bucket) == []
