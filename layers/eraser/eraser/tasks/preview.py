"""A dry run within the request: the listing the previewed task would do, page by page through the lister's own
``next_page`` (the same selection code, so the preview cannot diverge from the deletion), each targeted entry
predicted as a dry-run task's worker predicts it (``storage.plan``). When the request's budget runs out first (more
entries than ``limit``, or its time), there is no plan: the caller makes it a dry-run task instead.
"""

from __future__ import annotations

from eraser.storage import gateway
from eraser.storage.plan import EntryPlanner, Plan, PlannedVersion, PlanTally
from eraser.storage.retries import Deadline
from eraser.tasks.lister import next_page
from eraser.tasks.model import ListingCursor, SelectionMode, Task, TaskKind
from eraser.tasks.selection import purge_cutoff


def plan_now(task: Task, *, limit: int, deadline: Deadline) -> Plan | None:
    """The plan of ``task`` (a dry-run draft, ``engine.draft_task``), or None when it does not fit the budget."""
    assert task.is_dry_run
    cursor = ListingCursor()
    tally = PlanTally()
    named = set(task.selection.keys) if task.selection.mode == SelectionMode.KEYS else set()
    planners: dict[int, EntryPlanner] = {}
    while cursor.target_index < len(task.targets):
        index = cursor.target_index
        target = task.targets[index]
        selected, with_version_ids = next_page(task, cursor)
        planner = planners.setdefault(index, EntryPlanner(gateway.open_bucket(target.s3_bucket, task.account_id,
                                                                              deadline=deadline)))
        for entry in selected:
            version_id = entry.version_id if with_version_ids else None
            prediction = planner.predict(entry.key, version_id, is_delete_marker=entry.is_delete_marker,
                                         listed=entry.key not in named)
            tally.add(PlannedVersion(key=entry.key, version_id=version_id, size=entry.size,
                                     is_delete_marker=entry.is_delete_marker,
                                     is_latest=entry.is_latest or version_id is None, prediction=prediction))
            if tally.entries > limit or deadline.passed:
                return None
    if task.selection.mode == SelectionMode.ALL:
        deleting_bucket = task.acts_as == TaskKind.DELETE_BUCKET
        for target in task.targets:
            bucket = gateway.open_bucket(target.s3_bucket, task.account_id, deadline=deadline)
            if deleting_bucket and not bucket.bucket_exists():
                continue
            tally.add_uploads(bucket.count_multipart_uploads(initiated_before=purge_cutoff(task)))
    tally.add_newer_than_trash_retention(cursor.trash_newer)
    return tally.plan(keeps_bucket=task.acts_as == TaskKind.DELETE_BUCKET)
