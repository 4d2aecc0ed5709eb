"""Cold-start cost of each function: the import time of its handler module in a fresh interpreter
(`python -X importtime`), which is what Lambda pays on every cold start before the first event."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.tools import PROJECT_PYTHON, ROOT

FUNCTIONS = ROOT / "functions"
_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


@dataclass
class ImportTime:
    function: str
    # Cumulative import time of the handler module, milliseconds.
    handler_ms: float | None
    # Wall time of `python -c "import app"`, interpreter start included.
    process_ms: float | None
    heaviest: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None


def parse_importtime(stderr: str, module: str = "app") -> tuple[float | None, list[tuple[str, float]]]:
    """The module's cumulative import time (ms) and its heaviest direct imports, from `-X importtime` output.

    Nested imports are printed before their importer, one level deeper (two spaces); a module's direct imports are
    the lines one level below it that come right before it."""
    entries: list[tuple[int, str, float]] = []
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match:
            depth = (len(match.group(3)) - 1) // 2
            entries.append((depth, match.group(4), int(match.group(2)) / 1000))
    for index, (depth, name, cumulative) in enumerate(entries):
        if name == module and depth == 0:
            children: list[tuple[str, float]] = []
            for child_depth, child, child_cumulative in reversed(entries[:index]):
                if child_depth == 0:
                    break
                if child_depth == 1:
                    children.append((child, child_cumulative))
            children.sort(key=lambda item: -item[1])
            return cumulative, children[:3]
    return None, []


def function_directories() -> list[Path]:
    return sorted(path for path in FUNCTIONS.iterdir() if (path / "app.py").exists()) if FUNCTIONS.exists() else []


def measure(directory: Path, environment: dict[str, str]) -> ImportTime:
    command = [str(PROJECT_PYTHON), "-X", "importtime", "-c", "import app"]
    env = {**environment, "PYTHONPATH": str(directory)}
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, timeout=120,
                               check=False)
    process_ms = (time.perf_counter() - started) * 1000
    if completed.returncode != 0:
        last = [line for line in completed.stderr.splitlines() if not line.startswith("import time:")]
        return ImportTime(directory.name, None, None, error=(last[-1] if last else "import failed")[:200])
    handler_ms, heaviest = parse_importtime(completed.stderr)
    return ImportTime(directory.name, handler_ms, process_ms, heaviest)


def measure_all(environment: dict[str, str], repeats: int = 3, warm: bool = True) -> list[ImportTime]:
    """The median of ``repeats`` imports per function, after one (``warm``) that warms the file system cache and
    writes the .pyc files a deployed package has."""
    results = []
    for directory in function_directories():
        if warm:
            measure(directory, environment)
        samples = [measure(directory, environment) for _ in range(repeats)]
        good = sorted((sample for sample in samples if not sample.error), key=lambda sample: sample.handler_ms or 0)
        results.append(good[len(good) // 2] if good else samples[0])
    return results


def table(results: list[ImportTime]) -> str:
    lines = [f"{'function':<22} {'import ms':>9} {'process ms':>10}  heaviest imports"]
    for result in results:
        if result.error:
            lines.append(f"{result.function:<22} {'-':>9} {'-':>10}  import failed: {result.error}")
            continue
        heaviest = ", ".join(f"{name} {ms:.0f}" for name, ms in result.heaviest)
        lines.append(f"{result.function:<22} {result.handler_ms or 0:>9.0f} {result.process_ms or 0:>10.0f}  {heaviest}")
    return "\n".join(lines)
