"""A task's receipt (``GET /v1/tasks/{id}/receipt``): download every part from its pre-signed URL, check it against
the receipt (SHA-256 of the stored gzip bytes, its line count), and count the lines per outcome.

Each part is gzip JSON Lines, one line per version removed or not removed, each with its ``outcome``."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eraser_cli.api import ApiError, Eraser


class ReceiptFailed(Exception):
    """A part does not match the receipt, cannot be read or cannot be written (exit 1); the message names it."""


@dataclass
class VerifiedReceipt:
    task_id: str
    parts: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    lines: int = 0


def verify(api: Eraser, receipt: dict[str, Any], download_to: Path | None) -> VerifiedReceipt:
    verified = VerifiedReceipt(task_id=str(receipt.get("task_id")))
    for part in receipt.get("parts") or []:
        key = str(part.get("key"))
        if not part.get("url"):
            raise ReceiptFailed(f"part {key}: the receipt gives no URL for it")
        try:
            content = api.download(str(part["url"]))
        except ApiError as error:
            # An expired or refused pre-signed URL is about the part, not the API key: a failure, not exit 5.
            raise ReceiptFailed(f"part {key}: download refused ({error})") from None
        digest = hashlib.sha256(content).hexdigest()
        if digest != part.get("sha256"):
            raise ReceiptFailed(f"part {key}: SHA-256 {digest} does not match the receipt's {part.get('sha256')}")
        outcomes = _outcomes(key, content)
        if part.get("lines") is not None and len(outcomes) != part["lines"]:
            raise ReceiptFailed(f"part {key}: {len(outcomes)} lines, the receipt says {part['lines']}")
        written = None
        if download_to is not None:
            # The key's last segment (00000000.jsonl.gz): the receipt's own name for the part, never a path upwards.
            name = Path(key).name
            if name in ("", ".", ".."):
                raise ReceiptFailed(f"part {key}: no file name to write it under")
            target = download_to / name
            try:
                download_to.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            except OSError as error:
                raise ReceiptFailed(f"part {key}: cannot write {target}: {error.strerror}") from None
            written = str(target)
        verified.counts.update(outcomes)
        verified.lines += len(outcomes)
        verified.parts.append({"key": key, "sha256": digest, "lines": len(outcomes), "path": written})
    return verified


def _outcomes(key: str, content: bytes) -> list[str]:
    try:
        text = gzip.decompress(content).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise ReceiptFailed(f"part {key}: not gzip JSON Lines ({error})") from None
    outcomes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            outcomes.append(str(json.loads(line)["outcome"]))
        except (ValueError, KeyError, TypeError):
            raise ReceiptFailed(f"part {key}: line {number} is not a JSON object with an outcome") from None
    return outcomes
