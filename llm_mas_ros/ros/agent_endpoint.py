"""One agent's own ROS node (its name, its goal topic, its controller's command topic), and
the control loop that steps the agents of a process together and times its hops.

Every agent is its own node (ARCHITECTURE section 7), so `ros2 node list` shows it, its goal
topic is `<agent>/goal` and its warnings carry its name; the process's `agent_host` node owns
what agents share and the batched control step, and hands each agent node its commands.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from ..core.control.agent import AgentGroup
from ..core.control.joint_states import JointStateReader
from ..core.control.latched import GoalInbox
from ..core.control.latency import LatencyStats
from ..core.planning.status import clip_text
from ..core.robot.model import Agent
from . import qos
from .messages import agent_diagnostic
from .params import declare

clock_ns = time.perf_counter_ns  # hop timing: monotonic, ~50 ns a call
READY = "ready"


class AgentNode(Node):
    """One agent's own node: its goal topic, its command topic, its identity parameters."""

    def __init__(
        self,
        agent: Agent,
        on_goal: Callable[[str, str], str],
        now: Callable[[], float],
        take_standing: bool = True,
    ) -> None:
        """`take_standing`: act on the standing (latched) goal heard on joining (on_rejoin)."""
        super().__init__(agent.name)
        declare(self, "joint", "joint this agent drives", agent.joint.name)
        declare(self, "controller", "forward command controller it commands", agent.controller)
        self.agent = agent
        self.on_goal = on_goal  # (agent, goal text) -> why it was refused, or ""
        self.now = now  # the host's control clock (s)
        self.command = Float64MultiArray(data=[0.0])
        self.commands = self.create_publisher(
            Float64MultiArray,
            agent.command_topic,
            qos.COMMANDS,
            qos_overriding_options=qos.overridable(),
        )
        self.inbox = GoalInbox(take_standing)
        qos.subscribe_latched(self, String, "~/goal", qos.GOALS, self._on_live, self._on_latched)

    def _on_live(self, message: String) -> None:
        if self.inbox.live(message.data, self.now()):
            self._receive(message.data)

    def _on_latched(self, message: String) -> None:
        if self.inbox.latched(message.data, self.now()):
            self._receive(message.data)
        elif self.inbox.ignored == message.data:
            self.get_logger().info(
                f"standing goal {clip_text(message.data)!r} not taken (on_rejoin: hold)"
            )

    def _receive(self, text: str) -> None:
        if error := self.on_goal(self.agent.name, text):
            self.get_logger().warning(error)

    def readiness(self, has_state: bool) -> str:
        """What this agent waits for before it can act; "ready" when nothing."""
        if not has_state:
            return "no joint state yet"
        if self.commands.get_subscription_count() == 0:
            return f"no subscriber on {self.commands.topic_name}"
        return READY

    def send(self, position: float) -> None:
        self.command.data[0] = position
        self.commands.publish(self.command)


class ControlLoop:
    """The agents process's control path, from an arriving JointState to the commands of the
    batched step, timed hop by hop (core/control/latency.py). Not a node: the host node's
    callbacks call it, and publish statuses when it says they changed."""

    def __init__(
        self, group: AgentGroup, agent_nodes: Sequence[AgentNode], wall_stamps: bool
    ) -> None:
        """`wall_stamps`: states are stamped on this host's system clock (no use_sim_time),
        so their age at arrival can be measured."""
        self.group, self.agent_nodes, self.wall_stamps = group, agent_nodes, wall_stamps
        self.reader = JointStateReader([node.agent.joint.name for node in agent_nodes])
        self.latency = LatencyStats()

    def on_state(self, message: JointState, now: float) -> bool:
        """Store a state; step when a tick is due. True when a status changed."""
        arrived = clock_ns()
        if self.wall_stamps:
            stamp = message.header.stamp
            self.latency.record_state_age(
                stamp.sec * 1_000_000_000 + stamp.nanosec, time.time_ns()
            )
        cores = self.group.cores
        for row, position, velocity in self.reader.read(
            message.name, message.position, message.velocity
        ):
            cores[row].observe(position, velocity, now)
        return self.group.due(now) and self.control(now, arrived)

    def control(self, now: float, arrived: int | None = None) -> bool:
        """One batched step and its commands (none for an agent without a fresh state);
        `arrived` (clock_ns): when the state that triggered it came. True when a status
        changed."""
        before = self.signature()
        started = clock_ns()
        commands = self.group.step(now)
        if commands is None:
            return False
        stepped = clock_ns()
        for node, command in zip(self.agent_nodes, commands, strict=True):
            if math.isfinite(command):
                node.send(float(command))
        sent = clock_ns()
        self.latency.step_time.record(stepped - started)
        self.latency.command_publish.record(sent - stepped)
        if arrived is not None:
            self.latency.state_to_command.record(sent - arrived)
        return before != self.signature()

    def signature(self) -> tuple[list[tuple[str, bool]], int]:
        """What a status is published at once for when it changes."""
        cores = self.group.cores
        return [(core.state, core.stalled) for core in cores], self.group.fallbacks

    def statuses(self, now: float, realtime: tuple[str, ...]) -> list[DiagnosticStatus]:
        """Every agent's status, with the process's latencies and real-time outcomes."""
        report = self.latency.report(now)
        statuses = self.group.statuses(now, report, realtime)
        diagnostics = []
        reader = self.reader
        rows = zip(statuses, self.agent_nodes, self.group.cores, strict=True)
        for row, (status, node, core) in enumerate(rows):
            readiness = node.readiness(core.has_state)
            full = replace(
                status,
                ready=readiness == READY,
                readiness=readiness,
                states_dropped=reader.dropped[row],
                drop_reason=reader.drop_reason[row],
            )
            diagnostics.append(agent_diagnostic(full, node.agent.joint.name))
        return diagnostics

    @property
    def ready(self) -> bool:
        """Every agent has a joint state and a subscriber on its command topic."""
        cores = self.group.cores
        pairs = zip(self.agent_nodes, cores, strict=True)
        return all(node.readiness(core.has_state) == READY for node, core in pairs)
