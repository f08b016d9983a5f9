"""The systems the bench measures, as node lists, and what it reads of their processes.

Each system runs in a namespace of its own (`/tuned`, `/naive`, ...), its /diagnostics
remapped into it, so several can be up at once and only the one being measured works: its
/joint_states and commands are its own. The tuned runtime is exactly the agents process that
`llm-mas-ros up` starts (launcher.bringup.node_list), with the bench's robot.yaml.

Every agents process is given `control_rate_hz` = CONTROL_RATE_FACTOR x the fastest state
rate measured, so that every arriving state is stepped: at exactly the state rate, the tick
grid (AgentGroup.due) would skip a state that arrives a little early, and the bench would
measure the grid instead of the runtime.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rclpy.qos import QoSProfile

from ..core.robot.model import RobotModel
from ..launcher.bringup import NodeSpec, node_list
from ..launcher.processes import ProcessGroup
from ..ros import qos, topics

CONTROL_RATE_FACTOR = 10
ECHO_TOPIC = "echo/commands"  # what the floor's echo publishes each state on
# The naive build's QoS: what `create_publisher(..., 10)` gives, reliable keep-last 10.
DEFAULT_QOS = QoSProfile(depth=10)
PACKAGE = "llm_mas_ros.latency_bench"


HOLD = "hold"  # a measured agent's goal: it holds where the prober's states put it
# ...or, for the moving variants, a goal that keeps every agent inside a segment (the learned
# policy runs its network only then) for longer than the sense->act section lasts: a move to
# the middle of its range, from the prober's 0 (the middle of most), stated to take 120 s.
MOVING = "move to 50% in 120 s"


@dataclass(frozen=True)
class System:
    """One system under test: its processes, and what a prober needs to measure it."""

    key: str  # short name in the JSON: tuned, naive, echo, ...
    label: str  # what it is, for the table
    namespace: str
    specs: tuple[NodeSpec, ...]
    agents: int  # commands per state
    state_subscribers: int  # /joint_states subscriptions once it is ready
    command_topics: tuple[str, ...]  # relative to the namespace
    joints: tuple[str, ...]  # the joint state the prober publishes
    goal_topics: tuple[str, ...]  # the agents' goal topics (none for the floor)
    state_qos: QoSProfile = field(default_factory=lambda: qos.JOINT_STATES)
    command_qos: QoSProfile = field(default_factory=lambda: qos.COMMANDS)
    goal: str = HOLD  # what every agent is told once it is matched, before it is measured


def _remaps(namespace: str) -> tuple[tuple[str, str], ...]:
    """Into `namespace`, /diagnostics too; the root namespace ('/') keeps the graph's own
    names, so a planner started beside the system hears its agents."""
    if namespace == "/":
        return ()
    return (("__ns", namespace), (topics.DIAGNOSTICS, f"{namespace}{topics.DIAGNOSTICS}"))


def tuned(
    key: str,
    label: str,
    config_dir: Path,
    robot: RobotModel,
    namespace: str,
    rate_hz: float,
    goal: str = HOLD,
) -> System:
    """The agents process of `up`: every agent of `robot` in one process, told `goal`."""
    (spec,) = node_list(sim="none", config_dir=config_dir, part="agents")
    spec = dataclasses.replace(
        spec,
        parameters={**spec.parameters, "control_rate_hz": CONTROL_RATE_FACTOR * rate_hz},
        remappings=(*spec.remappings, *_remaps(namespace)),
    )
    return System(
        key,
        label,
        namespace,
        (spec,),
        len(robot.agents),
        1,
        tuple(agent.command_topic for agent in robot.agents),
        robot.joint_names,
        tuple(agent.goal_topic for agent in robot.agents),
        goal=goal,
    )


def naive(key: str, robot_file: Path, robot: RobotModel, namespace: str, rate_hz: float) -> System:
    """One naive_agent process per agent, default QoS, SingleThreadedExecutor, eager torch."""
    specs = tuple(
        NodeSpec(
            "naive_agent",
            f"{PACKAGE}.naive_agent",
            None,  # unscoped -p: a node-scoped one would not reach a node in a namespace
            (str(robot_file),),
            {"agents": [agent.name], "control_rate_hz": CONTROL_RATE_FACTOR * rate_hz},
            (("__node", f"naive_{agent.name}"), *_remaps(namespace)),
        )
        for agent in robot.agents
    )
    return System(
        key,
        "naive: a process per agent, SingleThreadedExecutor, default QoS (depth 10), "
        "eager torch per agent",
        namespace,
        specs,
        len(robot.agents),
        len(robot.agents),
        tuple(agent.command_topic for agent in robot.agents),
        robot.joint_names,
        tuple(agent.goal_topic for agent in robot.agents),
        DEFAULT_QOS,
        DEFAULT_QOS,
    )


def echo_topics(replies: int) -> tuple[str, ...]:
    """The topics an echo of `replies` messages per state answers on."""
    return (ECHO_TOPIC,) if replies == 1 else tuple(f"{ECHO_TOPIC}_{i}" for i in range(replies))


def echo(
    key: str,
    label: str,
    joints: Sequence[str],
    namespace: str,
    waitset: bool,
    replies: int = 1,
) -> System:
    """The floor: one process that answers each state with `replies` command-sized messages."""
    spec = NodeSpec(
        "bench_echo",
        f"{PACKAGE}.floor_echo",
        None,  # unscoped -p (see naive)
        parameters={"waitset": waitset, "replies": replies},
        remappings=_remaps(namespace),
    )
    topics_ = echo_topics(replies)
    return System(key, label, namespace, (spec,), replies, 1, topics_, tuple(joints), ())


def start(system: System, log_dir: Path) -> ProcessGroup:
    """Start `system`'s processes (stop them with the group's stop(): SIGINT, then harder)."""
    group = ProcessGroup(system.specs, log_dir=log_dir / system.key)
    group.start()
    return group


def pids(group: ProcessGroup) -> list[int]:
    return [running.process.pid for running in group.running]


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(process_ids: Sequence[int]) -> float:
    """User + system CPU time (s) the processes have used so far (all their threads), from
    /proc (the ROS wheels re-exec Python in place, so the pid stays the node's)."""
    total = 0
    for pid in process_ids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    return total / _TICKS


def logged(group: ProcessGroup, text: str) -> int:
    """How many lines of the group's logs contain `text` (e.g. a policy fallback)."""
    count = 0
    for running in group.running:
        if running.log and running.log.exists():
            count += sum(text in line for line in running.log.read_text().splitlines())
    return count
