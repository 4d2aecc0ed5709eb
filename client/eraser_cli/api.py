"""Eraser's public HTTP API, one method per route, over the standard library's ``urllib``.

Every request carries the key in ``X-Api-Key`` and nowhere else; errors name the URL path, never the key. Requests
that create a task carry a generated ``Idempotency-Key``: when the connection drops before an answer, the request is
sent once more with the same key, so the server returns the task it already made instead of starting a second.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any

from eraser_cli.config import Settings

USER_AGENT = "eraser-cli/0.1.0"
TIMEOUT_SECONDS = 60
# One resend after a dropped connection; more would hide an outage behind a long hang.
RESENDS_AFTER_CONNECTION_ERROR = 1


class Unreachable(Exception):
    """No answer from the API (exit 5)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def retry_after(self) -> int | None:
        value = self.header("retry-after")
        return int(value) if value and value.isdigit() else None


@dataclass
class ApiError(Exception):
    """A 4xx or 5xx answer, with the family's error code and message pulled out of its envelope."""

    status: int
    code: str
    message: str
    body: Any = field(default=None, repr=False)
    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    @property
    def is_authentication(self) -> bool:
        # Every JSON family's 401 and 403 are about the credentials (missing, invalid, scope, organization), and so
        # is Katapult's 400 missing_api_token (its page's status). The S3 family's AccessDenied is also what S3
        # answers for an Object Lock refusal, so it reads as a refusal.
        return ((self.status in (401, 403) and self.code != "AccessDenied")
                or self.code in ("ExpiredToken", "missing_api_token"))


def error_from(answer: Answer) -> ApiError:
    """Each family's error envelope (Seahorse, quiva, Mixpeek, Katapult, S3 XML) to one code and message."""
    body = answer.json()
    code, message = str(answer.status), answer.body.decode("utf-8", "replace")[:300]
    if isinstance(body, dict):
        if isinstance(body.get("exception"), dict):  # Seahorse
            code, message = str(body["exception"].get("error_code")), str(body["exception"].get("error_message"))
        elif isinstance(body.get("error"), dict):  # Mixpeek
            detail = body["error"]
            code, message = str(detail.get("code") or detail.get("type")), str(detail.get("message"))
        elif isinstance(body.get("error"), str):  # quiva
            code, message = body["error"], str(body.get("message", body["error"]))
        elif "code" in body and "description" in body:  # Katapult
            code, message = str(body["code"]), str(body["description"])
    elif answer.body.lstrip().startswith(b"<"):
        try:
            root = ElementTree.fromstring(answer.body)  # noqa: S314 - the API's own S3 error document
            code, message = root.findtext("Code") or code, root.findtext("Message") or ""
        except ElementTree.ParseError:
            pass
    return ApiError(answer.status, code, message, body, answer.retry_after, answer.headers)


class Eraser:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, method: str, path: str, *, query: dict[str, str] | None = None, body: Any = None,
             headers: dict[str, str] | None = None, resend_on_drop: bool = False) -> Answer:
        url = self.settings.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        if self.settings.api_key is not None:
            all_headers["X-Api-Key"] = self.settings.api_key.reveal()
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        attempts = 1 + (RESENDS_AFTER_CONNECTION_ERROR if resend_on_drop else 0)
        for attempt in range(attempts):
            request = urllib.request.Request(url, data=data, headers=all_headers, method=method)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                    return Answer(response.status, {k.lower(): v for k, v in response.headers.items()},
                                  response.read())
            except urllib.error.HTTPError as error:
                return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                if attempt + 1 == attempts:
                    raise Unreachable(f"cannot reach {self.settings.url} ({method} {path}): {reason}") from None
                time.sleep(1)
        raise AssertionError("unreachable")

    def _json(self, answer: Answer, *ok: int) -> Any:
        if answer.status not in ok:
            raise error_from(answer)
        return answer.json()

    # --- routes ------------------------------------------------------------------------------------------------------
    # A dry run (docs/dry-run.md) is the same request with ``dry_run=true`` (the S3 family: the header
    # ``x-eraser-dry-run: true``); it answers 200 with a plan, or 202 with a task of kind ``dry_run``.
    def bulk_delete(self, bucket: str, keys: list[str], paths: list[str], *, dry_run: bool = False) -> Answer:
        answer = self.send("DELETE", "/v1/storage/objects", query={"bucket": bucket, **_dry_run_query(dry_run)},
                           body={"object_keys": keys, "path": paths},
                           headers={"Idempotency-Key": new_idempotency_key()})
        self._json(answer, 200, 202)
        return answer

    def purge(self, bucket: str, *, dry_run: bool = False) -> Answer:
        answer = self.send("DELETE", f"/storage/obj/{_segment(bucket)}/purge", query=_dry_run_query(dry_run),
                           headers={"Idempotency-Key": new_idempotency_key()}, resend_on_drop=True)
        self._json(answer, *_accepted(dry_run))
        return answer

    def delete_bucket(self, bucket: str, *, dry_run: bool = False) -> Answer:
        answer = self.send("DELETE", f"/v1/buckets/{_segment(bucket)}", query=_dry_run_query(dry_run),
                           headers={"Idempotency-Key": new_idempotency_key()}, resend_on_drop=True)
        self._json(answer, *_accepted(dry_run))
        return answer

    def task(self, task_id: str) -> Answer:
        answer = self.send("GET", f"/v1/tasks/{_segment(task_id)}", resend_on_drop=True)
        self._json(answer, 200)
        return answer

    def receipt(self, task_id: str) -> Any:
        return self._json(self.send("GET", f"/v1/tasks/{_segment(task_id)}/receipt", resend_on_drop=True), 200)

    def cancel(self, task_id: str) -> Any:
        return self._json(self.send("POST", f"/v1/tasks/{_segment(task_id)}/cancel"), 200, 202)

    def trash_page(self, bucket: str, page_token: str | None, page_size: int | None) -> Any:
        query = {"bucket": bucket}
        if page_token:
            query["page_token"] = page_token
        if page_size:
            query["page_size"] = str(page_size)
        return self._json(self.send("GET", "/v1/trash", query=query, resend_on_drop=True), 200)

    def restore(self, bucket: str, keys: list[str]) -> Any:
        return self._json(self.send("POST", "/v1/trash/restore", body={"bucket": bucket, "keys": keys}), 200)

    def purge_all_trash(self, organization: dict[str, str], *, dry_run: bool = False) -> Answer:
        # The server does not honour Idempotency-Key on this route yet, so no resend: a resend could start a second.
        answer = self.send("POST", "/organizations/organization/trash_objects/purge_all",
                           query=_dry_run_query(dry_run), body={"organization": organization},
                           headers={"Idempotency-Key": new_idempotency_key()})
        self._json(answer, *_accepted(dry_run))
        return answer

    def s3_delete(self, bucket: str, key: str, version_id: str | None, *, dry_run: bool = False) -> Answer:
        path = f"/s3/{_segment(bucket)}/{urllib.parse.quote(key, safe='/')}"
        answer = self.send("DELETE", path, query={"versionId": version_id} if version_id else None,
                           headers={DRY_RUN_HEADER: "true"} if dry_run else None)
        if answer.status != 204:
            raise error_from(answer)
        return answer

    def download(self, url: str) -> bytes:
        """A pre-signed URL (a receipt's part): a plain GET without the key, which belongs to the API alone and the
        URL may name another host (S3). A relative URL is read against the API's base URL."""
        absolute = urllib.parse.urljoin(self.settings.url + "/", url)
        request = urllib.request.Request(absolute, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return bytes(response.read())
        except urllib.error.HTTPError as error:
            raise error_from(Answer(error.code, {k.lower(): v for k, v in error.headers.items()},
                                    error.read())) from None
        except (urllib.error.URLError, OSError) as error:
            host = urllib.parse.urlsplit(absolute).netloc
            raise Unreachable(f"cannot reach {host}: {getattr(error, 'reason', error)}") from None


DRY_RUN_HEADER = "x-eraser-dry-run"
OUTCOME_HEADER = "x-eraser-outcome"


def _dry_run_query(dry_run: bool) -> dict[str, str]:
    return {"dry_run": "true"} if dry_run else {}


def _accepted(dry_run: bool) -> tuple[int, ...]:
    # These routes answer a real deletion's task with 200; a dry run too long for the request is a 202 task.
    return (200, 202) if dry_run else (200,)


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def new_idempotency_key() -> str:
    return f"eraser-cli-{uuid.uuid4()}"
