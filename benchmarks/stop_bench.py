"""Stop fast path on the running system: 'halt' sent while a plan moves a joint -> the planner
reports the instruction stopped (`timings_ms.done` of `llm-mas-ros say halt --json`).

The graph (sim + agents + planner) comes up once with `llm-mas-ros up` in a fresh ROS domain.
Each trial starts a slow move with `say` in the background, waits until it prints that its step
is running, sends 'halt', records the stop's timings, then drives the joint back. The stop never
reaches a model: this measures one hop each way plus the agents' hold.

    .venv/bin/python benchmarks/stop_bench.py [--trials 10] [--planner rules] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CLI = [sys.executable, "-m", "llm_mas_ros.cli"]
MOVE = "wrist_1 to 120 degrees slowly"
BACK = "wrist_1 to 0 degrees"


def say(env: dict[str, str], text: str) -> dict[str, object]:
    said = subprocess.run(
        [*CLI, "say", text, "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    result: dict[str, object] = json.loads(said.stdout.strip().splitlines()[-1])
    return result


def stop_once(env: dict[str, str]) -> dict[str, float]:
    """One trial: the stop's timings (ms after 'halt' was sent)."""
    move = subprocess.Popen(
        [*CLI, "say", MOVE], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert move.stdout is not None
        for line in move.stdout:
            if "running step 1" in line:
                break
        stop = say(env, "halt")
        move.wait(timeout=60)
    finally:
        if move.poll() is None:
            move.kill()
    if stop.get("state") != "stopped":
        raise SystemExit(f"halt did not stop the plan: {stop}")
    timings = stop["timings_ms"]
    assert isinstance(timings, dict)
    say(env, BACK)
    return {key: float(value) for key, value in timings.items() if value is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--planner", default="", help="planner backend for `up` (default: config)")
    parser.add_argument("--out", default=str(RESULTS), help="folder for stop.json / stop.md")
    args = parser.parse_args(argv)
    env = {
        **os.environ,
        "ROS_DOMAIN_ID": str(random.randint(110, 200)),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
    }
    planner = ["--planner", args.planner] if args.planner else []
    up = subprocess.Popen(
        [*CLI, "up", *planner],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    done: list[float] = []
    try:
        assert up.stdout is not None
        for line in up.stdout:  # `up` says when the graph is ready
            if "llm-mas-ros: ready" in line:
                break
        for trial in range(args.trials):
            timings = stop_once(env)
            done.append(timings["done"])
            print(f"trial {trial + 1}: stopped {timings['done']:.1f} ms after 'halt'")
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
    table = "\n".join(
        [
            "| trials | stopped p50 ms | min | max |",
            "|---|---|---|---|",
            f"| {len(done)} | {statistics.median(done):.1f} | {min(done):.1f} | {max(done):.1f} |",
        ]
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stop.json").write_text(
        json.dumps({"when": time.ctime(), "planner": args.planner, "done_ms": done}, indent=1)
    )
    (out / "stop.md").write_text(
        f"'halt' during a running plan -> planner reports it stopped (sim + agents + planner on "
        f"this machine's {os.cpu_count()} CPUs).\n\n{table}\n\n"
        "Reproduce: `.venv/bin/python benchmarks/stop_bench.py`\n"
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
