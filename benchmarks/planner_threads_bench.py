"""Planner model threads beside the running system: first-step latency of free-form
instructions with the whole graph up (sim + agents + planner), per `threads` setting.

For each round and each thread count (interleaved, so machine load affects them alike), the
package's config/ is copied with planner.yaml `threads` set, `llm-mas-ros up --config` brings
the graph up in a fresh ROS domain, and `llm-mas-ros say --json` sends each instruction and
waits for it to finish. Reported: `latency_ms.first_step` (instruction received -> step 1
dispatched) of the instructions the model planned.

    .venv/bin/python benchmarks/planner_threads_bench.py [--threads 1,2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llm_mas_ros.core.robot.share import share_dir

RESULTS = Path(__file__).resolve().parent / "results"
CLI = str(Path(sys.executable).with_name("llm-mas-ros"))
INSTRUCTIONS = (
    "swing the base round to ninety degrees",
    "please bend the elbow a bit, by ten degrees",
    "would you kindly tilt the wrist to twenty degrees",
    "raise the shoulder by fifteen degrees",
    "rotate the base back to zero degrees",
)


def config_with_threads(threads: int, folder: Path) -> Path:
    """A copy of the package's config/ whose planner uses `threads` model threads."""
    config = folder / f"config-{threads}"
    shutil.copytree(share_dir() / "config", config)
    planner = config / "planner.yaml"
    lines = planner.read_text().splitlines()
    setting = [number for number, line in enumerate(lines) if line.startswith("    threads:")]
    if len(setting) != 1:
        raise SystemExit("planner.yaml needs exactly one 'threads:' line to set")
    lines[setting[0]] = f"    threads: {threads}"
    planner.write_text("\n".join(lines) + "\n")
    return config


def first_steps(config: Path, env: dict[str, str]) -> list[float]:
    """First-step latency (ms) of each model-planned instruction on a freshly started graph."""
    up = subprocess.Popen(
        [CLI, "--config", str(config), "up"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    latencies = []
    try:
        for instruction in INSTRUCTIONS:
            said = subprocess.run(
                [CLI, "--config", str(config), "say", instruction, "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            result = json.loads(said.stdout.strip().splitlines()[-1])
            if not result["planner"].startswith("fast-path"):
                latencies.append(float(result["latency_ms"]["first_step"]))
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="thread counts to compare (comma)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--out", default=str(RESULTS), help="folder for planner_threads.*")
    args = parser.parse_args(argv)
    counts = [int(t) for t in args.threads.split(",")]
    samples: dict[int, list[float]] = {t: [] for t in counts}
    with tempfile.TemporaryDirectory() as folder:
        configs = {t: config_with_threads(t, Path(folder)) for t in counts}
        for round_number in range(args.rounds):
            for threads in counts if round_number % 2 == 0 else counts[::-1]:
                env = {
                    **os.environ,
                    "ROS_DOMAIN_ID": str(random.randint(110, 200)),
                    "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
                }
                env.pop("OMP_NUM_THREADS", None)
                samples[threads] += first_steps(configs[threads], env)
                print(f"round {round_number + 1}, threads {threads}: {samples[threads]}")
    rows = [
        f"| {t} | {statistics.median(v):.0f} | {min(v):.0f} | {max(v):.0f} | {len(v)} |"
        for t, v in samples.items()
    ]
    table = "\n".join(
        ["| threads | first step median ms | min | max | n |", "|---|---|---|---|---|", *rows]
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "planner_threads.json").write_text(
        json.dumps({"when": time.ctime(), "rounds": args.rounds, "samples_ms": samples}, indent=1)
    )
    (out / "planner_threads.md").write_text(
        "Free-form instructions to the running graph (sim + agents + planner on this machine's "
        f"{os.cpu_count()} CPUs), planner model threads per setting, {args.rounds} interleaved "
        f"rounds.\n\n{table}\n\n"
        "Reproduce: `.venv/bin/python benchmarks/planner_threads_bench.py`\n"
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
