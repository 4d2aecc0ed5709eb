"""What a selection targets (``tasks.selection``), applied page by page as the lister does, on pages the gateway lists
from an in-memory S3: the pages a listing is cut into must not change what is targeted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eraser.storage.gateway import ListedVersion
from eraser.tasks.model import ListingCursor, Selection, Target, Task, TaskKind
from eraser.tasks.selection import targeted_versions, trashed_at, trashed_before
from tests.fakes.s3_gateway import EPOCH, OWNER, FakeS3

BUCKET = "history"


@pytest.fixture
def s3() -> FakeS3:
    """Keys with overwrites and deletes: noncurrent versions, markers on top, markers with nothing beneath."""
    fake = FakeS3()
    fake.create_bucket(BUCKET, versioning="Enabled")
    bucket = fake.open_bucket(BUCKET, OWNER)
    for number in range(6):
        key = f"doc{number}"
        for _ in range(number % 3 + 1):
            fake.put(BUCKET, key)
        if number % 2 == 0:
            bucket.delete_object(key)
    return fake


def task_of(selection: Selection, kind: TaskKind = TaskKind.TRASH_PURGE) -> Task:
    return Task(id="t", kind=kind, organization_id="o", account_id=OWNER,
                targets=[Target(bucket_id="b", bucket_name="n", s3_bucket=BUCKET)], selection=selection,
                requested_by="me", created_at=EPOCH + timedelta(seconds=12))


def targeted_by_pages(s3: FakeS3, task: Task, page_size: int) -> list[tuple[str, str | None]]:
    bucket = s3.open_bucket(BUCKET, OWNER)
    cursor = ListingCursor()
    targeted: list[ListedVersion] = []
    while True:
        page = bucket.list_versions_page(key_marker=cursor.key_marker, version_marker=cursor.version_marker,
                                         page_size=page_size)
        targeted += targeted_versions(task, page, cursor)
        if page.is_last:
            return sorted((entry.key, entry.version_id) for entry in targeted)
        cursor.key_marker, cursor.version_marker = page.next_key_marker, page.next_version_marker


@pytest.mark.parametrize("selection", [Selection.trash(EPOCH + timedelta(seconds=9)), Selection.everything()])
def test_what_a_selection_targets_does_not_depend_on_the_page_size(s3, selection):
    task = task_of(selection, TaskKind.TRASH_PURGE if selection.superseded_before else TaskKind.PURGE_BUCKET)
    whole = targeted_by_pages(s3, task, 1000)

    assert whole  # the history holds something to target
    for page_size in (1, 2, 3, 7):
        assert targeted_by_pages(s3, task, page_size) == whole


def test_trash_targets_what_was_trashed_before_the_cutoff_and_never_a_live_object(s3):
    """A marker on top of versions waits for the verification pass (deleting it first would revive the version)."""
    cutoff = EPOCH + timedelta(seconds=9)
    entries = s3.open_bucket(BUCKET, OWNER).list_versions_page().entries
    chosen = trashed_before(entries, cutoff, previous_key=None, previous_modified=None)
    selected = [*chosen.selected, *([chosen.held_marker] if chosen.held_marker else [])]

    newer: dict[str, ListedVersion] = {}
    for entry in entries:
        previous = newer.get(entry.key)
        at = trashed_at(entry, previous.last_modified if previous else None)
        waits = entry.is_latest and entry.is_delete_marker and any(
            other.key == entry.key and other is not entry for other in entries)
        assert (entry in selected) == (at is not None and at <= cutoff and not waits)
        if entry.is_latest and not entry.is_delete_marker:
            assert entry not in selected
        newer[entry.key] = entry
