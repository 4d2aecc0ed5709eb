"""The time and the ids every record carries, in one place, so that tests can move the clock of one module."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    # 64 random bits: ids are names, not secrets, but must not collide across organizations.
    return f"{prefix}_{secrets.token_hex(8)}"
