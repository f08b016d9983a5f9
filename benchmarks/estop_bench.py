"""E-stop latency on the running graph: `/estop` published -> the last agent holding.

The graph (MuJoCo sim + grouped agents + rules planner) runs as processes, as `llm-mas-ros up`
starts it, in a ROS domain of its own. Each trial sends every revolute agent a slow goal, waits
until their commands change from tick to tick (they move), publishes `/estop` true and records,
in this process (its executor's delivery included: an upper bound):
  - frozen: the arrival of the first command, per agent, after which its commands no longer
    change (checked over the following FROZEN_WINDOW_S); the trial's latency is the last agent's;
  - status: the arrival of the status saying ESTOP, the last agent's.
Then it releases the stop, and drives the joints back for the next trial.

    .venv/bin/python benchmarks/estop_bench.py [--trials 30] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
FROZEN_WINDOW_S = 0.3  # commands unchanged this long after the stop: frozen
TARGET_MS = 20.0
MOVING = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def frozen_since(history: list[tuple[float, float]], since: float) -> float:
    """When an agent's commands after `since` stopped changing: the arrival of the first
    command equal to all that follow it."""
    after = [(t, v) for t, v in history if t > since]
    last = after[-1][1]
    changed = max((i for i, (_, v) in enumerate(after) if v != last), default=-1)
    return after[changed + 1][0]


def run(trials: int) -> dict[str, object]:
    from llm_mas_ros.launcher.processes import claim_free_domain

    claim = claim_free_domain()
    os.environ["ROS_DOMAIN_ID"] = str(claim.domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    from llm_mas_ros.launcher.bringup import dds_environment

    os.environ.update(dds_environment())

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.duration import Duration
    from std_msgs.msg import Bool, Float64MultiArray, String

    from llm_mas_ros.core.control.agent import AgentState
    from llm_mas_ros.core.robot.model import load_robot
    from llm_mas_ros.launcher.bringup import node_list
    from llm_mas_ros.launcher.processes import ProcessGroup
    from llm_mas_ros.ros import qos, topics
    from llm_mas_ros.ros.client import GraphClient
    from llm_mas_ros.ros.graph import spin_until
    from llm_mas_ros.ros.messages import agent_statuses
    from llm_mas_ros.ros.runtime import monotonic

    rclpy.init(args=[])
    robot = load_robot()
    group = ProcessGroup(node_list(planner_backend="rules"))
    group.start()
    client = GraphClient(robot, node_name="estop_bench")
    commands: dict[str, list[tuple[float, float]]] = {name: [] for name in robot.agent_names}
    states: dict[str, tuple[AgentState, float]] = {}

    def on_status(message: DiagnosticArray) -> None:
        now = monotonic()
        for status in agent_statuses(message):
            if status.name not in states or states[status.name][0] != status.state:
                states[status.name] = (status.state, now)

    node = client.node
    node.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, on_status, qos.DIAGNOSTICS)
    for agent in robot.agents:
        node.create_subscription(
            Float64MultiArray,
            agent.command_topic,
            lambda m, a=agent.name: commands[a].append((monotonic(), m.data[0])),
            qos.COMMANDS,
        )
    goals = {a.name: node.create_publisher(String, a.goal_topic, qos.GOALS) for a in robot.agents}
    estop = node.create_publisher(Bool, topics.ESTOP, qos.ESTOP)

    def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        if not spin_until(client.executor, condition, timeout_s):
            raise SystemExit(f"estop_bench: {what} within {timeout_s:g} s")

    def moving(since: float) -> bool:
        recent = {a: [v for t, v in commands[a] if t > since] for a in MOVING}
        return all(len(v) >= 3 and v[-1] != v[-2] for v in recent.values())

    names = robot.agent_names
    frozen_ms: list[float] = []
    status_ms: list[float] = []
    try:
        client.wait_ready(180.0, lambda: group.first_death())
        until(lambda: estop.get_subscription_count() > 0, 30.0, "no agent heard /estop")
        for trial in range(trials):
            sign = 1 if trial % 2 == 0 else -1
            sent = monotonic()
            for agent in MOVING:
                goals[agent].publish(String(data=f"move to {sign * 40} degrees slowly"))
            until(lambda sent=sent: moving(sent + 0.2), 15.0, "the joints never moved")
            stopped = monotonic()
            estop.publish(Bool(data=True))
            until(
                lambda stopped=stopped: (
                    monotonic() > stopped + FROZEN_WINDOW_S + 0.05
                    and all(states.get(a, (None, 0))[0] == AgentState.ESTOP for a in names)
                ),
                10.0,
                "not every agent reported ESTOP",
            )
            frozen_at = [frozen_since(commands[agent], stopped) for agent in MOVING]
            frozen_ms.append((max(frozen_at) - stopped) * 1000.0)
            status_ms.append((max(states[a][1] for a in names) - stopped) * 1000.0)
            estop.publish(Bool(data=False))
            until(
                lambda: all(states[a][0] != AgentState.ESTOP for a in names),
                10.0,
                "the release was not heard",
            )
            for history in commands.values():
                history.clear()
        estop.wait_for_all_acked(Duration(seconds=5))
    finally:
        client.close()
        group.stop()
        rclpy.try_shutdown()
        claim.close()
    return {
        "trials": trials,
        "agents": len(robot.agent_names),
        "moving_agents": len(MOVING),
        "layout": "mujoco sim + grouped agents (one process) + rules planner, as processes",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "frozen_ms": summary(frozen_ms),
        "status_ms": summary(status_ms),
        "target_ms": TARGET_MS,
        "raw": {"frozen_ms": [round(v, 3) for v in frozen_ms], "status_ms": status_ms},
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


def markdown(result: dict) -> str:
    frozen, status = result["frozen_ms"], result["status_ms"]
    return "\n".join(
        [
            f"`/estop` published -> last agent holding, {result['trials']} trials, "
            f"{result['moving_agents']} of {result['agents']} agents moving "
            f"({result['layout']}; {result['machine']}).",
            "",
            "| measure | p50 ms | p99 ms | max ms | target |",
            "|---|---|---|---|---|",
            f"| every command frozen (last agent) | {frozen['p50']} | {frozen['p99']} | "
            f"{frozen['max']} | <= {result['target_ms']:g} ms |",
            f"| every status ESTOP (last agent) | {status['p50']} | {status['p99']} | "
            f"{status['max']} | |",
            "",
            f"Reproduce: `.venv/bin/python benchmarks/estop_bench.py --trials {result['trials']}`",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", default=str(RESULTS), help="folder for estop.json / estop.md")
    args = parser.parse_args(argv)
    result = run(args.trials)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "estop.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "estop.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
