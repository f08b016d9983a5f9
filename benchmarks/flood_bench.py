"""Instruction floods (issue 13, item 4) beyond the test's one: the flood of
test/system/test_flood.py (a graph of its own, the rules planner, a mix of hostile texts from a
process of its own) at several rates, for longer, and under each arrival policy.

    .venv/bin/python benchmarks/flood_bench.py [--rates 100 300 1000] [--seconds 10]
        [--arrivals preempt queue] [--long 60] [--out benchmarks/results]

Each case is one pytest run of test_flood.py with LLM_MAS_ROS_FLOOD_* set; the test notes what
it measured (sent, received by the planner, lost in transport, outcomes by state, the
planner's RSS before and after, states and commands outside the limits, the instruction after
the flood). Writes flood.json and flood.md to `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TEST = "test/system/test_flood.py"
ENV = {  # test/system/test_flood.py reads these
    "rate": "LLM_MAS_ROS_FLOOD_RATE_HZ",
    "seconds": "LLM_MAS_ROS_FLOOD_SECONDS",
    "arrival": "LLM_MAS_ROS_FLOOD_ARRIVAL",
    "results": "LLM_MAS_ROS_FLOOD_RESULTS",
}


def run_case(rate: float, seconds: float, arrival: str, folder: Path) -> dict[str, object]:
    records, junit = folder / "records.jsonl", folder / "junit.xml"
    env = {
        **os.environ,
        ENV["rate"]: str(rate),
        ENV["seconds"]: str(seconds),
        ENV["arrival"]: arrival,
        ENV["results"]: str(records),
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST]
    started, load_before = time.monotonic(), os.getloadavg()[0]
    subprocess.run([*command, f"--junitxml={junit}"], cwd=ROOT, env=env, check=False)
    wall_s = time.monotonic() - started
    tests = {}
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            tests[str(case.get("name"))] = _outcome(case)
    lines = records.read_text().splitlines() if records.exists() else []
    measured = json.loads(lines[-1]) if lines else {}
    return {
        "rate_hz": rate,
        "seconds": seconds,
        "arrival": arrival,
        "wall_s": round(wall_s, 1),
        # 1-minute load average before and after: other work on these 2 CPUs shows here
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "tests": tests,
        "measured": measured,
    }


def _outcome(case: ET.Element) -> str:
    for child in case:
        if child.tag == "skipped":
            return "xfail" if "xfail" in child.get("type", "") else "skipped"
        if child.tag in ("failure", "error"):
            message = (child.get("message") or "").splitlines()
            if message and message[0].startswith("[XPASS(strict)]"):
                return "xpass (nothing lost this time: the strict xfail counts it failed)"
            return f"failed: {message[0][:160] if message else ''}"
    return "passed"


def markdown(cases: list[dict[str, object]], command: str) -> str:
    rows = [
        "| arrival | rate Hz | s | sent | received | lost | outcomes (log / diagnostics) "
        "| done / preempted / stopped / rejected / failed | planner RSS MB | outside limits "
        "| after: ok, done ms | load | tests |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        m = case["measured"] or {}
        if not m:
            rows.append(
                f"| {case['arrival']} | {case['rate_hz']:g} | {case['seconds']:g} "
                f"| - | - | - | - | - | - | - | - | {case['load']} | {_tests(case)} |"
            )
            continue
        tally = m["tally"]
        counts = " / ".join(
            str(tally.get(k, 0)) for k in ("done", "preempted", "stopped", "rejected", "failed")
        )
        after = m["after_flood"]
        rss = m["planner_rss_mb"]
        rows.append(
            f"| {case['arrival']} | {case['rate_hz']:g} | {case['seconds']:g} "
            f"| {m['published']['sent']} | {m['received']} | {m['lost_in_transport']} "
            f"| {m['outcomes_logged']} / {m['outcomes_heard_on_diagnostics']} | {counts} "
            f"| {rss[0]} -> {rss[1]} | {m['outside_limits']} "
            f"| {after.get('ok')}, {after.get('timings_ms', {}).get('done')} "
            f"| {case['load'][0]} -> {case['load'][1]} | {_tests(case)} |"
        )
    return (
        "# Instruction floods\n\n"
        f"`{command}` on this machine (2 CPUs shared with the graph: sim, agents, rules "
        "planner, the flood process and the test's observer). `lost` = sent but never "
        "received by the planner (no outcome, no reason); every received instruction's outcome "
        "is in the planner's log, `diagnostics` counts those this process heard. `load`: the "
        "1-minute load average before -> after the case (other work shares these CPUs; the "
        "planner loses more the less CPU it gets).\n\n" + "\n".join(rows) + "\n"
    )


LABELS = {  # test name fragment -> what it checks, in the table
    "crashes_nothing": "safe",
    "received_has_exactly_one_outcome": "accounted",
    "sent_is_received": "nothing lost",
}


def _tests(case: dict[str, object]) -> str:
    tests: dict[str, str] = case["tests"]  # type: ignore[assignment]
    labelled = {
        next((label for key, label in LABELS.items() if key in name), name): outcome
        for name, outcome in tests.items()
    }
    return "; ".join(f"{label}: {outcome}" for label, outcome in labelled.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--arrivals", nargs="+", default=["preempt", "queue"])
    parser.add_argument("--long", type=float, default=60.0, help="1 kHz for this long (0: none)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    options = parser.parse_args()
    plan = [
        (rate, options.seconds, arrival) for arrival in options.arrivals for rate in options.rates
    ]
    if options.long:
        plan.append((1000.0, options.long, options.arrivals[0]))
    cases = []
    with tempfile.TemporaryDirectory(prefix="flood_bench-") as scratch:
        for number, (rate, seconds, arrival) in enumerate(plan):
            folder = Path(scratch) / str(number)
            folder.mkdir()
            cases.append(run_case(rate, seconds, arrival, folder))
            print(json.dumps(cases[-1])[:400], flush=True)
    command = "python benchmarks/flood_bench.py " + " ".join(sys.argv[1:])
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "flood.json").write_text(
        json.dumps({"command": command, "cases": cases}, indent=1) + "\n"
    )
    (options.out / "flood.md").write_text(markdown(cases, command.strip()))
    print(f"wrote {options.out / 'flood.json'} and {options.out / 'flood.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
