"""Faults survived: the fault drills of the system tests (test/system/test_faults.py and
test_multihost.py), run `--rounds` times, with what they measured and whether each survived.

    .venv/bin/python benchmarks/faults_bench.py [--rounds 3] [--out DIR]

Each drill starts a whole graph of its own and injects its fault with a signal; the tests note
their timings through LLM_MAS_ROS_FAULT_RESULTS. A fault is survived when its test passed in
every round; a test marked xfail names the fix it waits for (its reason is quoted).
Writes faults.json and faults.md to `--out` (benchmarks/results/).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TESTS = ["test/system/test_faults.py", "test/system/test_multihost.py"]
RESULTS_ENV = "LLM_MAS_ROS_FAULT_RESULTS"  # test/system/conftest.py writes it
MEASURES = {  # what each timing says, in the table
    "stall_warn_ms": "stall -> every agent WARN",
    "detection_ms": "fault -> detected",
    "step_failed_ms": "fault -> step failed",
    "rejoin_ms": "restart -> planner ready",
    "goal_done_after_ms": "kill -> goal done",
    "done_ms": "instruction -> done",
}


def run_round(folder: Path) -> tuple[dict[str, str], list[dict[str, object]]]:
    """One pytest run of TESTS: outcome per test name, and the records the tests wrote."""
    records, junit = folder / "records.jsonl", folder / "junit.xml"
    env = {**os.environ, RESULTS_ENV: str(records)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS]
    subprocess.run([*command, f"--junitxml={junit}"], cwd=ROOT, env=env, check=False)
    outcomes = {str(case.get("name")): _outcome(case) for case in ET.parse(junit).iter("testcase")}
    lines = records.read_text().splitlines() if records.exists() else []
    return outcomes, [json.loads(line) for line in lines]


def _outcome(case: ET.Element) -> str:
    for child in case:
        if child.tag == "skipped":
            kind = child.get("type", "")
            message = child.get("message", "")
            return f"xfail: {message}" if "xfail" in kind else f"skipped: {message}"
        if child.tag in ("failure", "error"):
            return f"failed: {(child.get('message') or '').splitlines()[0][:200]}"
    return "passed"


def summarise(rounds: list[tuple[dict[str, str], list[dict[str, object]]]]) -> list[dict]:
    rows: dict[str, dict] = {}
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for outcomes, records in rounds:
        for record in records:
            fault, test = str(record["fault"]), str(record["test"])
            row = rows.setdefault(fault, {"fault": fault, "test": test, "outcomes": []})
            for key, value in record.items():
                if key in MEASURES:
                    values[(fault, key)].append(float(value))  # type: ignore[arg-type]
        for name, outcome in outcomes.items():  # a test that failed before its first record
            if outcome != "passed" and not any(_name(r["test"]) == name for r in rows.values()):
                rows[name] = {"fault": name, "test": name, "outcomes": []}
        for row in rows.values():
            row["outcomes"].append(outcomes.get(_name(row["test"]), "not run"))
    for (fault, key), samples in values.items():
        rows[fault].setdefault("ms", {})[key] = {
            "median": round(statistics.median(samples), 1),
            "max": round(max(samples), 1),
            "n": len(samples),
        }
    for row in rows.values():
        row["survived"] = all(outcome == "passed" for outcome in row["outcomes"])
    return list(rows.values())


def _name(test: str) -> str:
    return test.split("::")[-1]


def markdown(result: dict) -> str:
    lines = [
        "# Faults survived: the fault drills of the system tests",
        "",
        f"`{result['command']}` ({result['rounds']} rounds, {result['seconds']} s)",
        "",
        "| fault | survived | measured (median / max, ms) | test |",
        "|---|---|---|---|",
    ]
    for row in result["faults"]:
        measured = "; ".join(
            f"{MEASURES[key]}: {m['median']:.0f} / {m['max']:.0f}"
            for key, m in row.get("ms", {}).items()
        )
        outcome = next((o for o in row["outcomes"] if o != "passed"), "passed")
        survived = "yes" if row["survived"] else f"no ({outcome})"
        test = _name(row["test"])
        lines.append(f"| {row['fault']} | {survived} | {measured or '-'} | `{test}` |")
    lines += ["", result["notes"], ""]
    return "\n".join(lines)


NOTES = (
    "Detection of a killed agent is the planner's `agent_timeout_s` (config/planner.yaml, "
    "2 s) plus at most its 0.5 s status tick. Without /joint_states the agents' watchdog (one "
    "control period, 10 ms) finds them stalled after `state_timeout_periods` periods "
    "(config/robot.yaml, 3: 30 ms; they send no command and report WARN) and lost after "
    "`state_timeout_s` (0.5 s: the goal fails). A restart counts the new process's start "
    "(Python, rclpy, discovery). Each drill runs its own graph (rules planner) on a DDS domain "
    "of its own, on this 2-core machine (shared with other jobs while this ran)."
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.monotonic()
    rounds = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="faults_bench-") as folder:
            rounds.append(run_round(Path(folder)))
    result = {
        "command": " ".join([".venv/bin/python benchmarks/faults_bench.py", *sys.argv[1:]]),
        "rounds": args.rounds,
        "seconds": round(time.monotonic() - started, 1),
        "faults": summarise(rounds),
        "notes": NOTES,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "faults.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "faults.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
