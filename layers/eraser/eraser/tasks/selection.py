"""What a selection targets: the rules that choose, from one listed page, the versions a task deletes. Pure: no S3
call, no clock; the lister does the listing and moves S3's markers, so a dry run can apply exactly these rules to
the same pages.

- ``modified_by``: what existed at a cutoff (a purge works on what the bucket held when it was asked for);
- ``trashed_at`` / ``trashed_before``: trash, where a version is trashed when the next newer entry of its key was
  written (the one rule the trash listing and the trash purge share);
- ``targeted_versions`` / ``targeted_objects``: a task's selection applied to one ListObjectVersions or
  ListObjectsV2 page, with what it must carry from page to page kept on the ``ListingCursor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eraser.storage.gateway import ListedVersion, ObjectPage, VersionPage
from eraser.tasks.model import HeldVersion, ListingCursor, SelectionMode, Task, TaskKind


def modified_by(entries: list[ListedVersion], cutoff: datetime | None) -> list[ListedVersion]:
    """Versions that existed at ``cutoff`` (what a purge targets); None selects everything.

    S3 reports LastModified in whole seconds, so a version written in the second the task began counts as
    pre-existing."""
    if cutoff is None:
        return list(entries)
    bound = cutoff.replace(microsecond=0)
    return [entry for entry in entries if entry.last_modified <= bound]


def trashed_at(entry: ListedVersion, newer_modified: datetime | None) -> datetime | None:
    """When ``entry`` went to trash, given the LastModified of the next newer entry of its key (None when ``entry``
    is its key's newest): a version is trashed when that entry (a version or a delete marker) was written; a delete
    marker is trashed at its own LastModified; the newest entry of a key that is a version is the live object and
    never in trash (None)."""
    if entry.is_delete_marker:
        return entry.last_modified
    return newer_modified


@dataclass(frozen=True)
class TrashSelection:
    selected: list[ListedVersion]
    previous_key: str | None
    previous_modified: datetime | None
    # A selected delete marker on top of its key, held until the listing shows whether versions lie beneath it.
    held_marker: ListedVersion | None
    # Trashed entries not selected: trashed after ``superseded_before`` (newer than the trash retention).
    newer: int = 0


def trashed_before(entries: list[ListedVersion], superseded_before: datetime, *, previous_key: str | None,
                   previous_modified: datetime | None, held_marker: ListedVersion | None = None,
                   defer_markers: bool = True) -> TrashSelection:
    """Noncurrent versions and delete markers trashed (``trashed_at``) at or before ``superseded_before``.
    ``previous_*`` carry the last entry of the previous page, because a key's versions may span pages.

    A delete marker on top of its key is only selected once no version lies beneath it: deleting it first would bring
    the version beneath back to life until that version's own batch ran (and, if that batch failed, for good). With
    versions beneath, the versions go in this pass and the marker in the verification pass that follows. The caller
    passes ``held_marker`` from page to page and selects it after the last page.

    A dry run has no verification pass: it selects such a marker at once (``defer_markers=False``), since the versions
    beneath it are trashed no later than the marker itself and so are selected with it, and its plan counts the
    marker the real purge removes in its verification pass."""
    selected: list[ListedVersion] = []
    newer = 0
    for entry in entries:
        newest_of_key = entry.key != previous_key
        if held_marker is not None and newest_of_key:
            selected.append(held_marker)
        held_marker = None
        trashed = trashed_at(entry, None if newest_of_key else previous_modified)
        if trashed is not None and trashed <= superseded_before:
            if entry.is_delete_marker and newest_of_key and defer_markers:
                held_marker = entry
            else:
                selected.append(entry)
        elif trashed is not None:
            newer += 1
        previous_key, previous_modified = entry.key, entry.last_modified
    return TrashSelection(selected, previous_key, previous_modified, held_marker, newer)


def purge_cutoff(task: Task) -> datetime | None:
    """A purge works on what the bucket held when it was asked for; deleting a bucket takes everything."""
    return None if task.acts_as == TaskKind.DELETE_BUCKET else task.snapshot_at


def targeted_objects(task: Task, page: ObjectPage) -> list[ListedVersion]:
    """The current objects of a ListObjectsV2 page the task targets: for a keys selection (a prefix listed), those
    existing at the task's snapshot and not named explicitly (a key named and also under a prefix is deleted, and
    counted, once); for everything on a bucket that never had versioning, those existing at the cutoff."""
    if task.selection.mode == SelectionMode.KEYS:
        named = set(task.selection.keys)
        return [entry for entry in modified_by(page.entries, task.snapshot_at) if entry.key not in named]
    return modified_by(page.entries, purge_cutoff(task))


def targeted_versions(task: Task, page: VersionPage, cursor: ListingCursor) -> list[ListedVersion]:
    """The versions and delete markers of a ListObjectVersions page the task targets, with the state carried from
    the previous page of the same target (``cursor``'s previous entry, held marker and anchor) taken into account and
    updated for the next page. S3's markers are the caller's to move."""
    if task.selection.mode == SelectionMode.TRASH:
        assert task.selection.superseded_before is not None
        held = None
        if cursor.held_marker_key is not None and cursor.held_marker_modified is not None:
            held = ListedVersion(cursor.held_marker_key, cursor.held_marker_version, 0, cursor.held_marker_modified,
                                 True, True)
        trash = trashed_before(page.entries, task.selection.superseded_before, previous_key=cursor.previous_key,
                               previous_modified=cursor.previous_modified, held_marker=held,
                               defer_markers=not task.is_dry_run)
        cursor.trash_newer += trash.newer
        selected = trash.selected
        cursor.previous_key, cursor.previous_modified = trash.previous_key, trash.previous_modified
        marker = trash.held_marker
        if marker is not None and page.is_last:
            selected.append(marker)
            marker = None
        cursor.held_marker_key = marker.key if marker else None
        cursor.held_marker_version = marker.version_id if marker else None
        cursor.held_marker_modified = marker.last_modified if marker else None
    else:
        selected = modified_by(page.entries, purge_cutoff(task))
    carried = cursor.anchor
    cursor.anchor = None
    if not page.is_last:
        anchor = next((entry for entry in selected if (entry.key, entry.version_id)
                       == (page.next_key_marker, page.next_version_marker)), None)
        if anchor is not None:
            selected = [entry for entry in selected if entry is not anchor]
            cursor.anchor = HeldVersion(key=anchor.key, version_id=anchor.version_id, size=anchor.size,
                                        last_modified=anchor.last_modified,
                                        is_delete_marker=anchor.is_delete_marker)
    if carried is not None:
        selected = [ListedVersion(carried.key, carried.version_id, carried.size, carried.last_modified, False,
                                  carried.is_delete_marker), *selected]
    return selected
