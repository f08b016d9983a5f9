"""Soak: at least 300 consecutive instructions through the whole graph (MuJoCo sim, grouped
agents, planner with the rules backend), every outcome accounted for, and the node processes'
resident memory, open files and threads, and /dev/shm segments, after a warm-up and at the end.

    .venv/bin/python benchmarks/soak_bench.py [--count 300] [--out DIR]

The test suite runs the same soak (llm_mas_ros/ros/soak.py) with 21 instructions.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(120, 200)))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    from llm_mas_ros.launcher.bringup import dds_environment, node_list

    os.environ.update(dds_environment())
    import rclpy

    from llm_mas_ros.core.robot.model import load_robot
    from llm_mas_ros.launcher.processes import ProcessGroup
    from llm_mas_ros.ros.client import GraphClient
    from llm_mas_ros.ros.soak import soak

    rclpy.init()
    with ProcessGroup(node_list(planner_backend="rules")) as group:
        client = GraphClient(load_robot(), node_name="soak_bench")
        client.wait_ready(180.0, group.first_death)
        started = time.monotonic()
        pids = [running.process.pid for running in group.running]
        report = soak(client, pids, args.count, alive=group.first_death)
        elapsed = time.monotonic() - started
        client.close()
        group.discard_logs()
    rclpy.shutdown()
    result = {
        "command": " ".join([".venv/bin/python benchmarks/soak_bench.py", *sys.argv[1:]]),
        "instructions": report.count,
        "seconds": round(elapsed, 1),
        "outcomes": dict(report.outcomes),
        "unaccounted": report.unaccounted,
        "rss_growth_max": round(report.rss_growth(), 4),
        "fd_growth_max": report.growth("fds"),
        "thread_growth_max": report.growth("threads"),
        "shm_segments": [report.shm_before, report.shm_after],
        "processes": {
            str(pid): {"before": vars(report.before[pid]), "after": vars(report.after[pid])}
            for pid in report.before
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Soak: consecutive instructions through the whole graph",
        "",
        f"`{result['command']}` ({result['seconds']} s)",
        "",
        "| instructions | outcomes | unaccounted | RSS growth (max) | fd growth | thread growth "
        "| /dev/shm before/after |",
        "|---|---|---|---|---|---|---|",
        f"| {report.count} | {result['outcomes']} | {len(report.unaccounted)} "
        f"| {result['rss_growth_max']:.1%} | {result['fd_growth_max']} "
        f"| {result['thread_growth_max']} | {report.shm_before} / {report.shm_after} |",
    ]
    (args.out / "soak.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if not report.unaccounted else 1


if __name__ == "__main__":
    raise SystemExit(main())
