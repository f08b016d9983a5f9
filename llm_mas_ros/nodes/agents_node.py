"""Agent nodes: one ROS node per agent, all agents of a process stepped together.

Each agent is its own node (name = agent name, `~/goal` subscription, its controller's command
publisher). The process also runs one `agent_host` node that owns what agents share: ONE
/joint_states subscription fanned out in Python, /estop, /diagnostics, and ONE batched policy
step per control tick, run when a joint state arrives (not by a chain of timers).

Parameters: config/robot.yaml, plus `agents` (string list) to host a subset in this process,
so one agent per process stays possible for distribution or isolation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray, String

from ..core.control.agent import AgentGroup
from ..core.control.latched import GoalInbox, latched_stop_applies
from ..core.errors import ConfigError
from ..core.robot.model import Agent, joint_order
from ..launcher.bringup import HOST_NODE
from ..ros import qos, topics
from ..ros.messages import agent_diagnostic, diagnostic_array
from ..ros.params import declare, declare_robot
from ..ros.runtime import monotonic, run_nodes

STATUS_PERIOD_S = 0.2  # periodic /diagnostics, on top of one per state change
WATCHDOG_PERIOD_S = 0.1  # how often a missing /joint_states is noticed


class AgentNode(Node):
    """One agent's own node: its goal topic, its command topic, its identity parameters."""

    def __init__(self, agent: Agent, on_goal) -> None:
        super().__init__(agent.name)
        declare(self, "joint", "joint this agent drives", agent.joint.name)
        declare(self, "controller", "forward command controller it commands", agent.controller)
        self.agent = agent
        self.command = Float64MultiArray(data=[0.0])
        self.commands = self.create_publisher(
            Float64MultiArray,
            agent.command_topic,
            qos.COMMANDS,
            qos_overriding_options=qos.overridable(),
        )
        self.inbox = GoalInbox()
        self.on_goal = partial(on_goal, agent.name)
        self.goals = qos.subscribe_latched(
            self, String, "~/goal", qos.GOALS, self._on_live_goal, self._on_latched_goal
        )

    def _on_live_goal(self, message: String) -> None:
        if self.inbox.live(message.data, monotonic()):
            self.on_goal(message)

    def _on_latched_goal(self, message: String) -> None:
        if self.inbox.latched(message.data, monotonic()):
            self.on_goal(message)

    def send(self, position: float) -> None:
        self.command.data[0] = position
        self.commands.publish(self.command)


class AgentHost(Node):
    """Shared state and the batched control step for the agents of this process."""

    def __init__(self) -> None:
        super().__init__(HOST_NODE)
        robot = declare_robot(self)
        hosted = declare(self, "agents", "agents hosted by this process (unset: all)")
        names = list(hosted or robot.agent_names)
        unknown = [name for name in names if not robot.has_agent(name)]
        if unknown:
            raise ConfigError(f"unknown agents {unknown} (known: {', '.join(robot.agent_names)})")
        agents = [robot.agent(name) for name in names]
        self.group = AgentGroup(agents, robot)
        self.agent_nodes = [AgentNode(agent, self._on_goal) for agent in agents]
        self.joints = [agent.joint.name for agent in agents]
        self._order_cache: tuple[tuple[str, ...], list[int]] = ((), [])
        self.diagnostics = self.create_publisher(
            DiagnosticArray, topics.DIAGNOSTICS, qos.DIAGNOSTICS
        )
        self.create_subscription(
            JointState,
            topics.JOINT_STATES,
            self._on_joint_state,
            qos.JOINT_STATES,
            qos_overriding_options=qos.overridable(),
        )
        qos.subscribe_latched(
            self, Bool, topics.ESTOP, qos.ESTOP, self._on_estop, self._on_latched_estop
        )
        self.create_timer(WATCHDOG_PERIOD_S, self._watchdog)
        self.create_timer(STATUS_PERIOD_S, self._publish_statuses)
        self.get_logger().info(
            f"hosting agents {', '.join(names)} at {robot.control.rate_hz:g} Hz"
        )

    @property
    def nodes(self) -> list[Node]:
        return [self, *self.agent_nodes]

    # -- callbacks: store, then let the core act ---------------------------------------------
    def _on_joint_state(self, message: JointState) -> None:
        now = monotonic()
        order = self._order(tuple(message.name))
        positions, velocities = message.position, message.velocity
        for core, index in zip(self.group.cores, order, strict=True):
            if 0 <= index < len(positions) and math.isfinite(positions[index]):
                velocity = velocities[index] if index < len(velocities) else 0.0
                core.observe(positions[index], velocity, now)
        if self.group.due(now):
            self._control(now)

    def _on_goal(self, agent: str, message: String) -> None:
        now = monotonic()
        core = self.group.core(agent)
        core.receive_goal(message.data, now)
        if core.error:
            self.get_logger().warning(f"{agent}: {core.error}")
        self._publish_statuses()

    def _on_estop(self, message: Bool) -> None:
        now = monotonic()
        if all(core.estop == message.data for core in self.group.cores):
            return  # heard on both paths, or repeated: nothing changes
        for core in self.group.cores:
            core.set_estop(bool(message.data), now)
        self.get_logger().warning("emergency stop " + ("ACTIVE" if message.data else "released"))
        self._control(now)  # the hold goes out now, not at the next state
        self._publish_statuses()

    def _on_latched_estop(self, message: Bool) -> None:
        if latched_stop_applies(message.data):
            self._on_estop(message)

    def _watchdog(self) -> None:
        """No /joint_states for state_timeout_s: step anyway, so agents hold and say why."""
        now = monotonic()
        if any(core.is_stale(now) for core in self.group.cores) and self.group.due(now):
            self._control(now)

    # -- acting ----------------------------------------------------------------------------------
    def _control(self, now: float) -> None:
        before = [core.state for core in self.group.cores]
        commands = self.group.step(now)
        if commands is None:
            return
        for node, command in zip(self.agent_nodes, commands, strict=True):
            if math.isfinite(command):
                node.send(float(command))
        if before != [core.state for core in self.group.cores]:
            self._publish_statuses()

    def _publish_statuses(self) -> None:
        now = monotonic()
        statuses = [
            agent_diagnostic(status, joint)
            for status, joint in zip(self.group.statuses(now), self.joints, strict=True)
        ]
        self.diagnostics.publish(diagnostic_array(self.get_clock().now(), statuses))

    def _order(self, names: tuple[str, ...]) -> list[int]:
        """Index of each hosted joint in the message (cached: the names rarely change)."""
        if names != self._order_cache[0]:
            self._order_cache = (names, joint_order(names, self.joints))
        return self._order_cache[1]


def build_nodes() -> Sequence[Node]:
    return AgentHost().nodes


def main(args: list[str] | None = None) -> int:
    return run_nodes(build_nodes, args)


if __name__ == "__main__":
    raise SystemExit(main())
