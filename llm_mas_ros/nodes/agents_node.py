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

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from ..core.control.agent import AgentGroup
from ..core.control.joint_states import JointStateReader
from ..core.control.latched import latched_stop_applies
from ..core.errors import ConfigError
from ..launcher.bringup import HOST_NODE
from ..ros import qos, topics
from ..ros.agent_endpoint import AgentNode
from ..ros.messages import agent_diagnostic, diagnostic_array
from ..ros.params import declare_hosted_agents, declare_robot
from ..ros.runtime import control_clock, run_nodes

STATUS_PERIOD_S = 0.2  # periodic /diagnostics, on top of one per state change
WATCHDOG_PERIOD_S = 0.1  # how often a missing /joint_states is noticed


class AgentHost(Node):
    """Shared state and the batched control step for the agents of this process."""

    def __init__(self) -> None:
        super().__init__(HOST_NODE)
        robot = declare_robot(self)
        self.now = control_clock(self)
        hosted = declare_hosted_agents(self)
        names = list(hosted or robot.agent_names)
        unknown = [name for name in names if not robot.has_agent(name)]
        if unknown:
            raise ConfigError(f"unknown agents {unknown} (known: {', '.join(robot.agent_names)})")
        agents = [robot.agent(name) for name in names]
        self.group = AgentGroup(agents, robot)  # policies as configured: learned or classical
        for warning in self.group.warnings:
            self.get_logger().warning(warning)
        self.agent_nodes = [AgentNode(agent, self._on_goal, self.now) for agent in agents]
        self.joints = [agent.joint.name for agent in agents]
        self.reader = JointStateReader(self.joints)
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
        policies = ", ".join(f"{c.agent.name} {c.policy}" for c in self.group.cores)
        self.get_logger().info(f"hosting agents {policies} at {robot.control.rate_hz:g} Hz")

    @property
    def nodes(self) -> list[Node]:
        return [self, *self.agent_nodes]

    # -- callbacks: store, then let the core act ---------------------------------------------
    def _on_joint_state(self, message: JointState) -> None:
        now = self.now()
        cores = self.group.cores
        for row, position, velocity in self.reader.read(
            message.name, message.position, message.velocity
        ):
            cores[row].observe(position, velocity, now)
        if self.group.due(now):
            self._control(now)

    def _on_goal(self, agent: str, text: str) -> str:
        core = self.group.core(agent)
        core.receive_goal(text, self.now())
        self._publish_statuses()
        return core.error

    def _on_estop(self, message: Bool) -> None:
        now = self.now()
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
        now = self.now()
        if any(core.is_stale(now) for core in self.group.cores) and self.group.due(now):
            self._control(now)

    # -- acting ----------------------------------------------------------------------------------
    def _control(self, now: float) -> None:
        before = [core.state for core in self.group.cores], self.group.fallbacks
        commands = self.group.step(now)
        if commands is None:
            return
        if self.group.fallbacks != before[1]:
            self.get_logger().warning("classical fallback: " + "; ".join(self.group.fallen_back()))
        for node, command in zip(self.agent_nodes, commands, strict=True):
            if math.isfinite(command):
                node.send(float(command))
        if before != ([core.state for core in self.group.cores], self.group.fallbacks):
            self._publish_statuses()

    def _publish_statuses(self) -> None:
        statuses = zip(self.group.statuses(self.now()), self.joints, strict=True)
        array = [agent_diagnostic(status, joint) for status, joint in statuses]
        self.diagnostics.publish(diagnostic_array(self.get_clock().now(), array))


def build_nodes() -> Sequence[Node]:
    return AgentHost().nodes


def main(args: list[str] | None = None) -> int:
    return run_nodes(build_nodes, args)


if __name__ == "__main__":
    raise SystemExit(main())
