"""The peer tools' environment, `.venv-bench`, created from requirements-bench.txt when missing or out of date."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"
REQUIREMENTS = ROOT / "requirements-bench.txt"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def bench_tool(name: str) -> Path:
    return BENCH_VENV / "bin" / name


def ensure_bench_venv(log: bool = True) -> str | None:
    """Create or update .venv-bench. Returns None when ready, else why not (the contenders needing it are skipped)."""
    marker = BENCH_VENV / ".installed"
    digest = _requirements_digest()
    if marker.exists() and marker.read_text().strip() == digest:
        return None
    if log:
        print(f"bench: installing peer tools into {BENCH_VENV.name} from {REQUIREMENTS.name} ...", flush=True)
    base_python = getattr(sys, "_base_executable", sys.executable)
    try:
        if not (BENCH_VENV / "bin" / "python").exists():
            subprocess.run([base_python, "-m", "venv", str(BENCH_VENV)], check=True, capture_output=True)
        subprocess.run([str(BENCH_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
                       check=True, capture_output=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        lines = [line for line in detail.decode("utf-8", "replace").splitlines() if line.strip()
                 and "is ignored: it is neither" not in line]
        return f"could not install {REQUIREMENTS.name}: {lines[-1] if lines else error}"
    marker.write_text(digest + "\n")
    return None


def tool_missing(name: str) -> str | None:
    path = bench_tool(name)
    if path.exists() and os.access(path, os.X_OK):
        return None
    return f"{path.relative_to(ROOT)} not installed"
