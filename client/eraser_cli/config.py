"""Where the API is and which key to send: flags (``--url``/``--api-key``, ``--local``, ``--profile``), then the
environment, then the default profile.

The profile file (``~/.config/eraser/config.toml``, or ``$XDG_CONFIG_HOME/eraser/config.toml``, or ``$ERASER_CONFIG``)
holds one table per stage::

    default_profile = "dev"

    [profiles.dev]
    url = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
    api_key_env = "ERASER_DEV_KEY"     # or api_key = "erk_..." (keep the file private)
    organization = "acme"              # the sub domain trash purge-all names

The key is kept in an ``ApiKey`` whose ``repr`` and ``str`` hide it, so no error message or log line can show it.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCAL_STATE = Path(".eraser") / "local.json"


class ConfigError(Exception):
    """The configuration is missing or unreadable (a usage error: exit 2)."""


class ApiKey:
    def __init__(self, secret: str) -> None:
        self._secret = secret

    def reveal(self) -> str:
        return self._secret

    def __repr__(self) -> str:
        return "ApiKey(<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    url: str
    api_key: ApiKey | None
    organization: str | None = None
    organization_id: str | None = None
    source: str = "flags"  # where the URL came from


def config_path(environ: dict[str, str]) -> Path:
    if environ.get("ERASER_CONFIG"):
        return Path(environ["ERASER_CONFIG"])
    base = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "eraser" / "config.toml"


def _read_profile(name: str | None, environ: dict[str, str]) -> dict[str, Any]:
    path = config_path(environ)
    if not path.exists():
        if name:
            raise ConfigError(f"profile {name!r} asked for, but {path} does not exist")
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    profiles = document.get("profiles", {})
    chosen = name or document.get("default_profile")
    if not chosen:
        return {}
    if chosen not in profiles:
        raise ConfigError(f"no profile {chosen!r} in {path} (profiles: {', '.join(sorted(profiles)) or 'none'})")
    profile = dict(profiles[chosen])
    if "api_key_env" in profile and "api_key" not in profile:
        profile["api_key"] = environ.get(str(profile["api_key_env"]))
    profile["source"] = f"profile {chosen}"
    return profile


def find_local_state(environ: dict[str, str], start: Path | None = None) -> Path:
    """``.eraser/local.json`` of the running ``make run``: ``$ERASER_LOCAL_STATE``, else the nearest one upwards."""
    if environ.get("ERASER_LOCAL_STATE"):
        return Path(environ["ERASER_LOCAL_STATE"])
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / LOCAL_STATE).exists():
            return directory / LOCAL_STATE
    raise ConfigError("--local: no .eraser/local.json here or above; is `make run` running?")


def _read_local(environ: dict[str, str]) -> dict[str, Any]:
    path = find_local_state(environ)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"--local: cannot read {path}: {error}") from None
    return {"url": state["url"], "api_key": state["api_key"], "organization_id": state.get("organization_id"),
            "source": f"local stack ({path})"}


def resolve(*, url: str | None, api_key: str | None, local: bool, profile: str | None,
            environ: dict[str, str]) -> Settings:
    """Flags over the environment over the profile file. A profile named with ``--profile`` is a flag: it beats
    ``ERASER_URL``/``ERASER_API_KEY``, so an exported variable left over from another stage cannot redirect it; the
    default profile (``ERASER_PROFILE``, else ``default_profile``) is the fallback under them."""
    if local and profile:
        raise ConfigError("--local and --profile name two different APIs: give one")
    layers: list[dict[str, Any]] = []
    if not profile:
        layers.append(_read_profile(environ.get("ERASER_PROFILE"), environ))
    layers.append({"url": environ.get("ERASER_URL"), "api_key": environ.get("ERASER_API_KEY"), "source": "environment"})
    if profile:
        layers.append(_read_profile(profile, environ))
    if local:
        layers.append(_read_local(environ))
    layers.append({"url": url, "api_key": api_key, "source": "flags"})
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({name: value for name, value in layer.items() if value and name != "source"})
        if layer.get("url"):
            merged["source"] = layer["source"]
    if not merged.get("url"):
        raise ConfigError("no API URL: pass --url, set ERASER_URL, use --local or a profile (eraser --help)")
    return Settings(url=str(merged["url"]).rstrip("/"),
                    api_key=ApiKey(str(merged["api_key"])) if merged.get("api_key") else None,
                    organization=merged.get("organization"), organization_id=merged.get("organization_id"),
                    source=str(merged.get("source", "flags")))
