"""The ``eraser`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eraser_cli import config, receipt
from eraser_cli.api import DRY_RUN_HEADER, OUTCOME_HEADER, Answer, ApiError, Eraser, Unreachable
from eraser_cli.output import emit, note, plan_summary, receipt_summary, table, task_summary
from eraser_cli.waiting import Outcome, StoppedWaiting, outcome_of, stderr_display, wait_for

EXIT_DONE = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_RUNNING = 4
EXIT_UNREACHABLE = 5
EXIT_BY_STATE = {"done": EXIT_DONE, "partial": EXIT_PARTIAL, "failed": EXIT_REFUSED, "cancelled": EXIT_REFUSED,
                 "running": EXIT_RUNNING}

EPILOG = """\
configuration, first found wins:
  1. flags: --url / --api-key; --local (the running `make run`'s .eraser/local.json); --profile NAME
  2. the environment: ERASER_URL, ERASER_API_KEY
  3. the default profile: ERASER_PROFILE, else default_profile, of ~/.config/eraser/config.toml
     ($ERASER_CONFIG or $XDG_CONFIG_HOME/eraser/config.toml if set), one table per stage:
       default_profile = "dev"
       [profiles.dev]
       url = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
       api_key_env = "ERASER_DEV_KEY"    # or api_key = "erk_..." (keep the file private)
       organization = "acme"             # the sub domain `trash purge-all` names
The key is sent in X-Api-Key only and never printed.

destructive commands (rm, purge, delete-bucket, trash purge-all, s3 rm) ask for confirmation on a terminal; with
stdin not a terminal they refuse unless --yes. purge, delete-bucket and trash purge-all wait with a progress line
on a terminal (--no-wait to return at once); Ctrl+C stops waiting, the task goes on.
--dry-run deletes nothing and asks nothing: it prints the server's plan (what would be deleted, what would be left
and why, the would-be outcome per key, a sample); a plan too big for one request is a task, waited for like a purge.
`task receipt TASK` downloads the finished task's receipt, checks every part's SHA-256 and counts the outcomes
(--download DIR keeps the parts).

exit codes:
  0  done (a dry run: the plan was shown)
  1  refused or failed (nothing confirmed, a 4xx answer, a failed or cancelled task, a receipt part that does not
     verify, a dry run the server answered as a real request)
  2  usage (bad arguments, no configuration)
  3  finished with some keys not deleted (partial)
  4  still running (not waiting, or stopped waiting; a receipt asked for before the task finished)
  5  cannot reach or authenticate (no answer, 401, 403 on credentials or scope)
"""


class Refused(Exception):
    """Nothing was sent: the user did not confirm, or could not be asked."""


def build_parser() -> argparse.ArgumentParser:
    def options(defaults: bool) -> argparse.ArgumentParser:
        # The options are accepted before and after the command; a subcommand's own defaults would overwrite what
        # was given before it, so only the top level has defaults.
        def default(value: Any) -> Any:
            return value if defaults else argparse.SUPPRESS

        holder = argparse.ArgumentParser(add_help=False)
        holder.add_argument("--url", default=default(None), help="the API's base URL (ERASER_URL)")
        holder.add_argument("--api-key", default=default(None),
                            help="an Eraser API key (ERASER_API_KEY); prefer the environment")
        holder.add_argument("--local", action="store_true", default=default(False),
                            help="use the running local stack (make run)")
        holder.add_argument("--profile", default=default(None), help="a profile of ~/.config/eraser/config.toml")
        holder.add_argument("--json", action="store_true", default=default(False), help="print one JSON document")
        holder.add_argument("--yes", "-y", action="store_true", default=default(False),
                            help="do not ask for confirmation")
        return holder

    common = options(defaults=False)

    def dry_run(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="delete nothing: show what would be deleted, what would be left and why")

    def waiting(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--wait", dest="wait", action="store_true", default=None,
                            help="wait for the task with a progress line (default on a terminal)")
        parser.add_argument("--no-wait", dest="wait", action="store_false", help="return once the task is accepted")

    parser = argparse.ArgumentParser(prog="eraser", parents=[options(defaults=True)], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Delete S3-backed objects through Eraser's API.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rm = commands.add_parser("rm", parents=[common], help="delete keys and folders of a bucket (bulk delete)")
    rm.add_argument("bucket")
    rm.add_argument("keys", nargs="*", metavar="KEY")
    rm.add_argument("--path", action="append", default=[], metavar="PREFIX", help="a folder; repeatable")
    waiting(rm)
    dry_run(rm)

    purge = commands.add_parser("purge", parents=[common], help="empty a bucket, keep the bucket")
    purge.add_argument("bucket")
    waiting(purge)
    dry_run(purge)

    delete_bucket = commands.add_parser("delete-bucket", parents=[common], help="delete a bucket and its contents")
    delete_bucket.add_argument("bucket")
    waiting(delete_bucket)
    dry_run(delete_bucket)

    trash = commands.add_parser("trash", help="list, restore and purge trash").add_subparsers(
        dest="trash_command", required=True, metavar="ACTION")
    trash_ls = trash.add_parser("ls", parents=[common], help="list a bucket's trash")
    trash_ls.add_argument("bucket")
    trash_ls.add_argument("--page-token")
    trash_ls.add_argument("--page-size", type=int)
    trash_restore = trash.add_parser("restore", parents=[common], help="restore keys from trash")
    trash_restore.add_argument("bucket")
    trash_restore.add_argument("keys", nargs="+", metavar="KEY")
    purge_all = trash.add_parser("purge-all", parents=[common], help="purge the organization's whole trash")
    organization = purge_all.add_mutually_exclusive_group()
    organization.add_argument("--org", help="the organization's sub domain (default: the profile's organization)")
    organization.add_argument("--org-id", help="the organization's id")
    waiting(purge_all)
    dry_run(purge_all)

    task = commands.add_parser("task", help="show, wait for or cancel a task").add_subparsers(
        dest="task_command", required=True, metavar="ACTION")
    for name, text in (("show", "a task's status and counts"), ("wait", "wait for a task with a progress line"),
                       ("cancel", "stop a task at the next batch boundary")):
        task.add_parser(name, parents=[common], help=text).add_argument("task_id", metavar="TASK")
    task_receipt = task.add_parser("receipt", parents=[common],
                                   help="download a finished task's receipt, verify its parts (SHA-256), count them")
    task_receipt.add_argument("task_id", metavar="TASK")
    task_receipt.add_argument("--download", metavar="DIR", help="also write the verified parts into DIR")

    s3 = commands.add_parser("s3", help="the S3-compatible endpoint").add_subparsers(
        dest="s3_command", required=True, metavar="ACTION")
    s3_rm = s3.add_parser("rm", parents=[common], help="DeleteObject: one key (a delete marker on versioned buckets)")
    s3_rm.add_argument("bucket")
    s3_rm.add_argument("key")
    s3_rm.add_argument("--version-id", help="delete this version permanently")
    dry_run(s3_rm)
    return parser


# --- confirmation ----------------------------------------------------------------------------------------------------
def confirm(args: argparse.Namespace, question: str, *, typed: str | None = None) -> None:
    """Ask on a terminal; refuse when nobody can be asked. ``typed``: the answer must be this word, not just y.
    A dry run deletes nothing, so nothing is asked."""
    if args.yes or getattr(args, "dry_run", False):
        return
    if not sys.stdin.isatty():
        raise Refused("stdin is not a terminal: pass --yes to confirm")
    hint = f"type {typed!r} to confirm" if typed else "[y/N]"
    sys.stderr.write(f"{question} {hint}: ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip()
    if (answer != typed) if typed else (answer.lower() not in ("y", "yes")):
        raise Refused("not confirmed; nothing was sent")


# --- commands --------------------------------------------------------------------------------------------------------
def _should_wait(args: argparse.Namespace) -> bool:
    return args.wait if args.wait is not None else sys.stderr.isatty()


def _connection_prefix(args: argparse.Namespace) -> str:
    if args.local:
        return "eraser --local"
    if args.profile:
        return f"eraser --profile {args.profile}"
    return "eraser"


def _finish_task(api: Eraser, args: argparse.Namespace, task_id: str, accepted: Answer, label: str,
                 *, dry_run_of: str | None = None) -> int:
    """After a task-creating request: wait for the task, or report it as it is now."""
    if _should_wait(args):
        note(f"{label}: task {task_id}")
        try:
            outcome = wait_for(api, task_id, display=stderr_display(sys.stderr.isatty()),
                               first_retry_after=accepted.retry_after)
        except StoppedWaiting:
            prefix = _connection_prefix(args)
            note(f"\nStopped waiting; task {task_id} goes on.\n"
                 f"  resume waiting: {prefix} task wait {task_id}\n"
                 f"  cancel it:      {prefix} task cancel {task_id}")
            return _report_task(args, outcome_of(api.task(task_id).json()), dry_run_of=dry_run_of)
    else:
        outcome = outcome_of(api.task(task_id).json())
    return _report_task(args, outcome, dry_run_of=dry_run_of)


def _report_task(args: argparse.Namespace, outcome: Outcome, *, dry_run_of: str | None = None) -> int:
    """A task as it is now; a completed dry-run task as its plan. ``dry_run_of``: the task answers a dry-run request,
    so anything but a dry-run task means the server did not take the request as one."""
    task_id = outcome.task.get("task_id")
    kind = outcome.task.get("task_type")
    if dry_run_of is not None and kind != DRY_RUN_TASK:
        raise NotADryRun(f"the server answered the dry run with a {kind} task ({task_id}), not a dry-run task; "
                         f"it may not offer dry runs: see `{_connection_prefix(args)} task show {task_id}`")
    if kind == DRY_RUN_TASK and outcome.state == "done":
        plan = outcome.task.get("plan")
        if not isinstance(plan, dict):
            raise NotADryRun(f"dry-run task {task_id} completed without a plan")
        return _emit_plan(args, dry_run_of or f"task {task_id}", plan, task_id=task_id, task=outcome.task)
    code = EXIT_BY_STATE[outcome.state]
    human = task_summary(outcome.task)
    if outcome.state == "running":
        human += f"\n\nstill running: {_connection_prefix(args)} task wait {task_id}"
    emit({"command": _command_name(args), "outcome": outcome.state, "exit_code": code, "task_id": task_id,
          "task": outcome.task}, human, as_json=args.json)
    return code


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, "trash_command", None) or getattr(args, "task_command", None) or getattr(
        args, "s3_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


DRY_RUN_TASK = "dry_run"


class NotADryRun(Exception):
    """A dry-run request was answered as a real one (a server without dry runs): it may have deleted (exit 1)."""


def _plan_of(body: Any) -> dict[str, Any] | None:
    # A family's usual body plus dry_run and plan; Seahorse's usual body is its data envelope.
    for holder in (body, body.get("data")) if isinstance(body, dict) else ():
        plan = holder.get("plan") if isinstance(holder, dict) else None
        if isinstance(plan, dict):
            return plan
    return None


def _task_id_of(body: Any) -> str | None:
    """The task of a family's task answer: quiva and Katapult ``task.id``, Mixpeek ``task_id``, Seahorse
    ``data.task.id``."""
    for holder in (body, body.get("data")) if isinstance(body, dict) else ():
        if not isinstance(holder, dict):
            continue
        if isinstance(holder.get("task_id"), str):
            return str(holder["task_id"])
        task = holder.get("task")
        if isinstance(task, dict) and isinstance(task.get("id"), str):
            return str(task["id"])
    return None


def _report_dry_run(api: Eraser, args: argparse.Namespace, answer: Answer, what: str) -> int:
    """A JSON family's answer to a dry run: a plan now (200), or a dry-run task to wait for (202)."""
    body = answer.json()
    plan = _plan_of(body)
    if plan is not None:
        return _emit_plan(args, what, plan, task_id=None, answer=body)
    task_id = _task_id_of(body)
    if answer.status == 202 and task_id:
        return _finish_task(api, args, task_id, answer, f"dry run of {what}", dry_run_of=what)
    started = f" and named task {task_id}: see `{_connection_prefix(args)} task show {task_id}`" if task_id else ""
    raise NotADryRun(f"the server answered the dry run with {answer.status} and no plan{started}; "
                     "it may not offer dry runs")


def _emit_plan(args: argparse.Namespace, what: str, plan: dict[str, Any], **extra: Any) -> int:
    human = f"Dry run of {what}: nothing was deleted.\n\n" + plan_summary(plan)
    emit({"command": _command_name(args), "outcome": "done", "exit_code": EXIT_DONE, "dry_run": True, "plan": plan,
          **extra}, human, as_json=args.json)
    return EXIT_DONE


def run_rm(api: Eraser, args: argparse.Namespace) -> int:
    if not args.keys and not args.path:
        raise UsageError("name at least one KEY or --path PREFIX")
    what = ", ".join([*args.keys[:3], *(f"{path} (folder)" for path in args.path[:3])])
    more = len(args.keys) + len(args.path) - min(len(args.keys), 3) - min(len(args.path), 3)
    confirm(args, f"Delete {what}{f' and {more} more' if more else ''} from bucket {args.bucket!r}?")
    answer = api.bulk_delete(args.bucket, args.keys, args.path, dry_run=args.dry_run)
    if args.dry_run:
        return _report_dry_run(api, args, answer, f"rm of {what} from bucket {args.bucket!r}")
    data = answer.json()["data"]
    if answer.status == 202:
        return _finish_task(api, args, data["task"]["id"], answer, f"rm from {args.bucket} is a background task")
    errors = data.get("errors") or []
    refused = [error for error in errors if error.get("error_code") != "404"]
    state = "partial" if refused else "done"
    code = EXIT_BY_STATE[state]
    human = f"Deleted {data['deleted_object_count']:,} objects from {args.bucket}."
    if errors:
        human += "\n\n" + table([(e.get("key"), e.get("error_code"), e.get("error_message")) for e in errors],
                                ("key", "code", "message"))
    emit({"command": "rm", "outcome": state, "exit_code": code, "bucket": args.bucket,
          "deleted_object_count": data["deleted_object_count"], "deleted_objects": data["deleted_objects"],
          "errors": errors}, human, as_json=args.json)
    return code


def run_purge(api: Eraser, args: argparse.Namespace) -> int:
    confirm(args, f"Purge every object, version and delete marker of bucket {args.bucket!r} (the bucket stays)?",
            typed=args.bucket)
    answer = api.purge(args.bucket, dry_run=args.dry_run)
    if args.dry_run:
        return _report_dry_run(api, args, answer, f"purge of bucket {args.bucket!r}")
    return _finish_task(api, args, answer.json()["task"]["id"], answer, f"purge of {args.bucket}")


def run_delete_bucket(api: Eraser, args: argparse.Namespace) -> int:
    confirm(args, f"Delete bucket {args.bucket!r} and everything in it?", typed=args.bucket)
    answer = api.delete_bucket(args.bucket, dry_run=args.dry_run)
    if args.dry_run:
        return _report_dry_run(api, args, answer, f"deletion of bucket {args.bucket!r}")
    return _finish_task(api, args, answer.json()["task_id"], answer, f"deletion of bucket {args.bucket}")


def run_trash(api: Eraser, args: argparse.Namespace) -> int:
    if args.trash_command == "ls":
        page = api.trash_page(args.bucket, args.page_token, args.page_size)
        entries = page.get("results") or []
        token = (page.get("pagination") or {}).get("next_page_token")
        human = table([(e.get("key"), e.get("version_id"), e.get("size"), e.get("deleted_at")) for e in entries],
                      ("key", "version", "size", "deleted_at")) if entries else f"The trash of {args.bucket} is empty."
        if token:
            human += f"\n\nmore: eraser trash ls {args.bucket} --page-token {token}"
        emit({"command": "trash ls", "outcome": "done", "exit_code": EXIT_DONE, "bucket": args.bucket,
              "entries": entries, "next_page_token": token}, human, as_json=args.json)
        return EXIT_DONE
    if args.trash_command == "restore":
        result = api.restore(args.bucket, args.keys)
        errors = result.get("errors") or []
        state = "partial" if errors else "done"
        human = table([(item.get("key"), item.get("version_id")) for item in result.get("restored") or []],
                      ("restored key", "version"))
        if errors:
            human += "\n\n" + table([(e.get("key"), e.get("code"), e.get("message")) for e in errors],
                                    ("key not restored", "code", "message"))
        emit({"command": "trash restore", "outcome": state, "exit_code": EXIT_BY_STATE[state], "bucket": args.bucket,
              "restored": result.get("restored") or [], "errors": errors}, human, as_json=args.json)
        return EXIT_BY_STATE[state]
    organization = _organization(api, args)
    name = next(iter(organization.values()))
    confirm(args, f"Purge the whole trash of organization {name!r}?")
    answer = api.purge_all_trash(organization, dry_run=args.dry_run)
    if args.dry_run:
        return _report_dry_run(api, args, answer, f"trash purge-all of organization {name!r}")
    return _finish_task(api, args, answer.json()["task"]["id"], answer, "trash purge-all")


def _organization(api: Eraser, args: argparse.Namespace) -> dict[str, str]:
    if args.org_id:
        return {"id": args.org_id}
    if args.org:
        return {"sub_domain": args.org}
    if api.settings.organization:
        return {"sub_domain": api.settings.organization}
    if api.settings.organization_id:
        return {"id": api.settings.organization_id}
    raise UsageError("name the organization: --org SUB_DOMAIN or --org-id ID (or `organization` in the profile)")


def run_task(api: Eraser, args: argparse.Namespace) -> int:
    if args.task_command == "cancel":
        api.cancel(args.task_id)
        return _report_task(args, outcome_of(api.task(args.task_id).json()))
    if args.task_command == "wait":
        args.wait = True
        return _finish_task(api, args, args.task_id, Answer(200, {}, b""), "waiting")
    if args.task_command == "receipt":
        return run_receipt(api, args)
    return _report_task(args, outcome_of(api.task(args.task_id).json()))


def run_receipt(api: Eraser, args: argparse.Namespace) -> int:
    try:
        document = api.receipt(args.task_id)
    except ApiError as error:
        if error.status != 409:
            raise
        # 409 task_running: the receipt is written when the task finishes.
        human = (f"Task {args.task_id} is still running; its receipt is written when it finishes.\n\n"
                 f"still running: {_connection_prefix(args)} task wait {args.task_id}")
        emit({"command": "task receipt", "outcome": "running", "exit_code": EXIT_RUNNING, "task_id": args.task_id,
              "error": {"status": error.status, "code": error.code, "message": error.message}}, human,
             as_json=args.json)
        return EXIT_RUNNING
    download_to = Path(args.download) if args.download else None
    verified = receipt.verify(api, document, download_to)
    human = receipt_summary(verified.task_id, len(verified.parts), verified.lines, dict(verified.counts.most_common()))
    if download_to is not None:
        human += f"\n\nparts written to {download_to}"
    emit({"command": "task receipt", "outcome": "done", "exit_code": EXIT_DONE, "task_id": verified.task_id,
          "parts": verified.parts, "counts": dict(verified.counts), "lines": verified.lines}, human,
         as_json=args.json)
    return EXIT_DONE


def run_s3(api: Eraser, args: argparse.Namespace) -> int:
    target = f"{args.key!r}" + (f" version {args.version_id}" if args.version_id else "")
    if args.dry_run:
        return _s3_dry_run(api, args, target)
    confirm(args, f"Delete {target} from bucket {args.bucket!r}"
            f"{' permanently' if args.version_id else ''}?")
    answer = api.s3_delete(args.bucket, args.key, args.version_id)
    marker = answer.header("x-amz-delete-marker") == "true"
    version = answer.header("x-amz-version-id")
    human = f"Deleted {args.key} from {args.bucket}" + (
        f" (delete marker {version})" if marker and version else f" (version {version})" if version else "") + "."
    emit({"command": "s3 rm", "outcome": "done", "exit_code": EXIT_DONE, "bucket": args.bucket, "key": args.key,
          "version_id": version, "delete_marker": marker}, human, as_json=args.json)
    return EXIT_DONE


def _s3_dry_run(api: Eraser, args: argparse.Namespace, target: str) -> int:
    """S3's syntax kept: the answer the real DeleteObject would give (204, or S3's error), marked
    ``x-eraser-dry-run: true``, with the would-be outcome in ``x-eraser-outcome``."""
    error: dict[str, Any] | None = None
    try:
        answer = api.s3_delete(args.bucket, args.key, args.version_id, dry_run=True)
    except ApiError as refused:
        # The error the real request would meet (an Object Lock AccessDenied) carries the outcome; any other error
        # (credentials, a missing bucket) is the dry run's own and reads as usual.
        if refused.headers.get(DRY_RUN_HEADER) != "true" or not refused.headers.get(OUTCOME_HEADER):
            raise
        outcome: str | None = refused.headers[OUTCOME_HEADER]
        error = {"status": refused.status, "code": refused.code, "message": refused.message}
    else:
        if answer.header(DRY_RUN_HEADER) != "true":
            raise NotADryRun(f"the server answered the dry run with {answer.status} without {DRY_RUN_HEADER}: it "
                             f"may not offer dry runs, and {target} may have been deleted")
        outcome = answer.header(OUTCOME_HEADER)
    refusal = f" (S3 would answer {error['status']} {error['code']}: {error['message']})" if error else ""
    human = (f"Dry run: deleting {target} from bucket {args.bucket!r} would end in {outcome}{refusal}; "
             "nothing was deleted.")
    emit({"command": "s3 rm", "outcome": "done", "exit_code": EXIT_DONE, "dry_run": True, "bucket": args.bucket,
          "key": args.key, "version_id": args.version_id, "would_be_outcome": outcome, "error": error}, human,
         as_json=args.json)
    return EXIT_DONE


COMMANDS: dict[str, Callable[[Eraser, argparse.Namespace], int]] = {
    "rm": run_rm, "purge": run_purge, "delete-bucket": run_delete_bucket, "trash": run_trash, "task": run_task,
    "s3": run_s3,
}


class UsageError(Exception):
    pass


def _fail(args: argparse.Namespace, code: int, outcome: str, message: str, error: dict[str, Any] | None = None) -> int:
    if args.json:
        emit({"command": _command_name(args), "outcome": outcome, "exit_code": code,
              "error": error or {"message": message}}, "", as_json=True)
    note(f"eraser: {message}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = config.resolve(url=args.url, api_key=args.api_key, local=args.local, profile=args.profile,
                                  environ=dict(os.environ))
        return COMMANDS[args.command](Eraser(settings), args)
    except (config.ConfigError, UsageError) as error:
        return _fail(args, EXIT_USAGE, "usage", str(error))
    except Refused as error:
        return _fail(args, EXIT_REFUSED, "refused", f"refused: {error}")
    except NotADryRun as error:
        return _fail(args, EXIT_REFUSED, "failed", f"not a dry run: {error}")
    except receipt.ReceiptFailed as error:
        return _fail(args, EXIT_REFUSED, "failed", f"receipt: {error}")
    except Unreachable as error:
        return _fail(args, EXIT_UNREACHABLE, "unreachable", str(error))
    except ApiError as error:
        detail = {"status": error.status, "code": error.code, "message": error.message}
        if error.is_authentication:
            return _fail(args, EXIT_UNREACHABLE, "unauthenticated", f"not authenticated: {error}", detail)
        return _fail(args, EXIT_REFUSED, "refused" if error.status < 500 else "failed", str(error), detail)


if __name__ == "__main__":
    sys.exit(main())
