"""What the agents process's own latency instrumentation costs (core/control/latency.py, wired in
ros/agent_endpoint.py ControlLoop): ns per histogram record, the instrumentation of one control
tick (clock reads, stamp arithmetic, four records), and its share of one batched step of the
reference robot's 7 agents (classical policy), all in this process, without ROS.

    .venv/bin/python benchmarks/latency_overhead_bench.py [--out DIR]

Writes latency_overhead.json and latency_overhead.md to `--out` (benchmarks/results/).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from llm_mas_ros.core.control.agent import AgentGroup
from llm_mas_ros.core.control.latency import LatencyStats
from llm_mas_ros.core.robot.model import load_robot

RESULTS = Path(__file__).resolve().parent / "results"
CALLS = 200_000  # per timing run
RUNS = 7  # the median of these is reported


def ns_per_call(body: Callable[[int], None], calls: int = CALLS) -> float:
    """Median over RUNS of the time per call of `body(i)` (ns), loop cost included."""
    clock = time.perf_counter_ns
    times = []
    for _ in range(RUNS):
        started = clock()
        for i in range(calls):
            body(i)
        times.append((clock() - started) / calls)
    return statistics.median(times)


def tick_instrumentation(stats: LatencyStats) -> Callable[[int], None]:
    """What ControlLoop adds to one tick: 4 perf_counter_ns, 1 time_ns, the stamp's ns, and
    four records (state age, step, publish, state -> command)."""
    clock, wall = time.perf_counter_ns, time.time_ns

    def body(i: int) -> None:
        arrived = clock()
        stats.record_state_age(wall() - 300_000, wall())  # a 0.3 ms old state
        started = clock()
        stepped = clock()
        sent = clock()
        stats.step_time.record(stepped - started)
        stats.command_publish.record(sent - stepped)
        stats.state_to_command.record(sent - arrived)

    return body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    robot = load_robot()
    stats = LatencyStats()
    empty = ns_per_call(lambda i: None)
    small = ns_per_call(lambda i: stats.step_time.record(50_000 + i % 1000)) - empty
    large = ns_per_call(lambda i: stats.step_time.record(5_000_000 + i)) - empty
    tick = ns_per_call(tick_instrumentation(stats), CALLS // 4) - empty
    group = AgentGroup(robot.agents, robot)
    for core in group.cores:
        core.observe(0.0, 0.0, 0.0)
    group.core("elbow").receive_goal("move to 45 degrees in 100 s", 0.0)
    step = ns_per_call(lambda i: group.step(i * 1e-5), CALLS // 20) - empty
    result = {
        "command": " ".join(
            [".venv/bin/python", "benchmarks/latency_overhead_bench.py", *sys.argv[1:]]
        ),
        "machine": f"{platform.machine()}, {platform.processor() or platform.node()}",
        "python": platform.python_version(),
        "record_ns_below_1ms": round(small, 1),
        "record_ns_above_1ms": round(large, 1),
        "instrumentation_ns_per_tick": round(tick, 1),
        "batched_step_ns_7_agents": round(step, 1),
        "share_of_step_percent": round(100.0 * tick / step, 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latency_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "latency_overhead.md").write_text(markdown(result))
    print(markdown(result))
    return 0


def markdown(result: dict) -> str:
    return "\n".join(
        [
            "# Cost of the agents' latency instrumentation",
            "",
            f"`{result['command']}` (Python {result['python']}, {result['machine']})",
            "",
            "| what | ns |",
            "|---|---|",
            f"| one record, sample < 1 ms (table look-up) | {result['record_ns_below_1ms']:.0f} |",
            f"| one record, sample >= 1 ms (one log) | {result['record_ns_above_1ms']:.0f} |",
            "| one tick's instrumentation (5 clock reads, 4 records) | "
            f"{result['instrumentation_ns_per_tick']:.0f} |",
            "| one batched step, 7 agents, classical | "
            f"{result['batched_step_ns_7_agents']:.0f} |",
            "",
            f"Instrumentation = {result['share_of_step_percent']:.1f} % of a batched step (and "
            "a smaller share of a whole tick, which adds the JointState read and 7 publishes). "
            "Medians of 7 runs, loop cost subtracted.",
            "",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
