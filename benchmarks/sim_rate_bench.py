"""How close the embedded simulator keeps to its configured rate and to real time.

A fresh process runs the MuJoCo sim node (config/sim.yaml: 500 Hz physics, /joint_states at
250 Hz) on an EventsExecutor beside a subscriber, for `--seconds` of wall time per trial, and
records on CLOCK_MONOTONIC: the /joint_states rate and the interval between messages (p50, p99,
max), the real-time factor (simulated s per wall s) and the lag it had to skip. These are the
numbers the node tests do not assert (a loaded 2-core machine jitters); the tests check the
period the node asks for and that it never runs ahead of the wall clock.

    .venv/bin/python benchmarks/sim_rate_bench.py [--trials 3] [--seconds 5] [--out DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

from llm_mas_ros.launcher.bringup import dds_environment

RESULTS = Path(__file__).resolve().parent / "results"

TRIAL = r"""
import json, sys, time
import rclpy
from sensor_msgs.msg import JointState
from llm_mas_ros.launcher.bringup import config_files
from llm_mas_ros.nodes.sim_node import MujocoSimNode
from llm_mas_ros.ros import qos
from llm_mas_ros.ros.runtime import make_executor

seconds = float(sys.argv[1])
files = config_files()
rclpy.init(args=["--ros-args", "--params-file", str(files["robot"]), "--params-file",
                 str(files["sim"])])
executor = make_executor()
sim = MujocoSimNode()
probe = rclpy.create_node("sim_rate_probe")
arrivals = []
probe.create_subscription(
    JointState, "joint_states", lambda m: arrivals.append(time.monotonic()), qos.JOINT_STATES
)
executor.add_node(sim)
executor.add_node(probe)
while not arrivals:
    executor.spin_once(timeout_sec=0.1)
wall_start, sim_start, first = time.monotonic(), sim.sim.time, len(arrivals)
while time.monotonic() - wall_start < seconds:
    executor.spin_once(timeout_sec=0.05)
wall = time.monotonic() - wall_start
print(json.dumps({
    "arrivals": arrivals[first:], "wall_s": wall, "sim_s": sim.sim.time - sim_start,
    "skipped_s": sim.skipped_s, "configured_hz": sim.sim.settings.publish_rate_hz,
}))
"""


def trial(seconds: float) -> dict[str, float]:
    env = {
        **os.environ,
        **dds_environment(),
        "ROS_DOMAIN_ID": str(random.randint(120, 200)),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
    }
    done = subprocess.run(
        [sys.executable, "-c", TRIAL, str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    arrivals = raw["arrivals"]
    intervals_ms = sorted((b - a) * 1000.0 for a, b in itertools.pairwise(arrivals))
    return {
        "configured_hz": raw["configured_hz"],
        "rate_hz": (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]),
        "interval_p50_ms": statistics.median(intervals_ms),
        "interval_p99_ms": intervals_ms[int(0.99 * (len(intervals_ms) - 1))],
        "interval_max_ms": intervals_ms[-1],
        "real_time_factor": raw["sim_s"] / raw["wall_s"],
        "skipped_s": raw["skipped_s"],
    }


def markdown(trials: list[dict[str, float]], command: str) -> str:
    keys = list(trials[0])
    lines = [
        "# Embedded simulator: /joint_states rate and real-time factor",
        "",
        f"`{command}`",
        "",
        "| trial | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    for number, row in enumerate(trials, 1):
        lines.append(f"| {number} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    trials = [trial(args.seconds) for _ in range(args.trials)]
    command = " ".join([".venv/bin/python benchmarks/sim_rate_bench.py", *sys.argv[1:]])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sim_rate.json").write_text(
        json.dumps({"command": command, "trials": trials}, indent=2) + "\n"
    )
    (args.out / "sim_rate.md").write_text(markdown(trials, command))
    print(markdown(trials, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
