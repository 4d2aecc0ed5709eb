"""`python -m bench.markdown RESULTS.json`: a results file's tables and verdicts as Markdown (docs/performance.md)."""

from __future__ import annotations

import json
import sys

from bench.report import Record, Summary, Verdict, per_run_wins, server_cpu_block, summarize, table, verdicts


def recompute(document: dict) -> tuple[list[Summary], list[Verdict]]:
    """Summaries and verdicts from a results file's run records, with this version's rules."""
    records = [Record(**record) for record in document["records"]]
    notes = {(key.split("\t")[0], key.split("\t")[1]): note for key, note in document.get("notes", {}).items()}
    for scenario in document["scenarios"]:
        for record in records:
            if record.scenario == scenario["name"] and record.objects < scenario["deleted_count"] \
                    and record.role == "peer":
                notes.setdefault((record.scenario, record.contender), f"on {record.objects:,} objects (slow)")
    for entry in document["skipped"]:
        if entry["contender"].startswith("eraser"):
            notes.setdefault((entry["scenario"], entry["contender"]), entry["reason"])
    summaries = summarize(records, notes)
    found: list[Verdict] = []
    for scenario in document["scenarios"]:
        found += verdicts(summaries, scenario["name"], scenario["kind"], scenario["deleted_count"],
                          unavailable=notes.get((scenario["name"], "eraser (HTTP API, task + fan-out)")))
        wins, compared = per_run_wins(records, scenario["name"])
        if compared and scenario["kind"] != "bulk-known-keys":
            found.append(Verdict(f"{scenario['name']}: Eraser >= that run's best peer, per run", wins == compared,
                                 f"{wins} of {compared} runs"))
    found += [Verdict(**verdict) for verdict in document["verdicts"] if verdict["target"].startswith("batch-delete")]
    return summaries, found


def render(document: dict) -> str:
    summaries, found = recompute(document)
    marks = {True: "met", False: "**missed**", None: "not measured"}
    parts = []
    for scenario in document["scenarios"]:
        name = scenario["name"]
        skipped = [(entry["contender"], entry["reason"]) for entry in document["skipped"]
                   if entry["scenario"] == name]
        parts.append(f"### {name}: {scenario['description']}\n")
        parts.append(table(summaries, name, skipped, markdown=True) + "\n")
        server_cpu = server_cpu_block(summaries, name, markdown=True)
        if server_cpu:
            parts.append(server_cpu + "\n")
        parts += [f"- {marks[verdict.met]}: {verdict.target.split(': ', 1)[-1]}: {verdict.detail}"
                  for verdict in found if verdict.target.startswith(f"{name}:")]
        parts.append("")
    parts += [f"- {marks[verdict.met]}: {verdict.target}: {verdict.detail}" for verdict in found
              if verdict.target.startswith("batch-delete")]
    imports = document.get("import_times") or []
    if imports:
        parts.append("\n| function | handler import ms | process ms | heaviest imports (ms) |\n|---|---|---|---|")
        for result in imports:
            heaviest = ", ".join(f"{name} {ms:.0f}" for name, ms in result["heaviest"])
            handler = "-" if result["handler_ms"] is None else f"{result['handler_ms']:.0f}"
            process = "-" if result["process_ms"] is None else f"{result['process_ms']:.0f}"
            parts.append(f"| {result['function']} | {handler} | {process} | {heaviest or result.get('error') or ''} |")
    return "\n".join(parts)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(render(json.load(handle)))
