"""Agent nodes: one ROS node per agent, all agents of a process stepped together.

Each agent is its own node (name = agent name, `~/goal` subscription, its controller's command
publisher). The process also runs one `agent_host` node that owns what agents share: ONE
/joint_states subscription fanned out in Python, /estop, /diagnostics, and ONE batched policy
step per control tick, run when a joint state arrives (not by a chain of timers). It applies
the real-time settings of robot.yaml at start and measures its own hop latencies
(core/control/latency.py), reported with every agent's status.

Parameters: config/robot.yaml, plus `agents` (string list) to host a subset in this process,
so one agent per process stays possible for distribution or isolation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from ..core.control.agent import AgentGroup
from ..core.control.latched import latched_stop_applies
from ..core.robot.model import Rejoin
from ..launcher.bringup import HOST_NODE
from ..ros import qos, topics
from ..ros.agent_endpoint import AgentNode, ControlLoop
from ..ros.messages import diagnostic_array
from ..ros.params import declare_hosted_agents, declare_robot
from ..ros.runtime import apply_control_settings, control_clock, run_nodes

STATUS_PERIOD_S = 0.2  # periodic /diagnostics, on top of one per state change
STALE_CHECK_S = 0.05  # how often a lost /joint_states (state_timeout_s) is looked for


class AgentHost(Node):
    """Shared state and the batched control step for the agents of this process."""

    def __init__(self, **node_options: Any) -> None:
        super().__init__(HOST_NODE, **node_options)
        robot = declare_robot(self)
        self.realtime = apply_control_settings(self, robot.control)
        self.now = control_clock(self)
        # State age needs the stamp's clock: the system clock, not a simulation's /clock.
        wall_stamps = not self.get_parameter("use_sim_time").value
        agents = [robot.agent(name) for name in declare_hosted_agents(self) or robot.agent_names]
        self.group = AgentGroup(agents, robot)  # policies as configured: learned or classical
        for warning in self.group.warnings:
            self.get_logger().warning(warning)
        standing = robot.control.on_rejoin is Rejoin.STANDING_GOAL
        self.agent_nodes = [AgentNode(a, self._on_goal, self.now, standing) for a in agents]
        self.loop = ControlLoop(self.group, self.agent_nodes, wall_stamps)
        self.fallbacks = 0  # agents moved to the classical controller, as last logged
        self.ready_at = 0.0  # when every agent could first act (control clock s); 0: not yet
        self.diagnostics = self.create_publisher(
            DiagnosticArray,
            topics.DIAGNOSTICS,
            qos.DIAGNOSTICS,
            qos_overriding_options=qos.overridable(),
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
        # Every control period: a stall (state_timeout_periods) is noticed within one more;
        # without that check, state_timeout_s alone needs no finer look than STALE_CHECK_S.
        stalls = robot.control.state_timeout_periods > 0
        self.create_timer(self.group.period_s if stalls else STALE_CHECK_S, self._watchdog)
        self.create_timer(STATUS_PERIOD_S, self._publish_statuses)
        policies = ", ".join(f"{c.agent.name} {c.policy}" for c in self.group.cores)
        self.get_logger().info(f"hosting agents {policies} at {robot.control.rate_hz:g} Hz")

    @property
    def nodes(self) -> list[Node]:
        return [self, *self.agent_nodes]

    # -- callbacks: store, then let the core act ---------------------------------------------
    def _on_joint_state(self, message: JointState) -> None:
        if self.loop.on_state(message, self.now()):
            self._on_status_change()

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
        self.loop.control(now)  # the hold goes out now, not at the next state
        self._publish_statuses()

    def _on_latched_estop(self, message: Bool) -> None:
        if latched_stop_applies(message.data):
            self._on_estop(message)

    def _watchdog(self) -> None:
        """No /joint_states for a while: agents stall or fail (AgentCore.watch) and say so."""
        if self.group.watch(self.now()):
            self._publish_statuses()

    # -- reporting -------------------------------------------------------------------------------
    def _on_status_change(self) -> None:
        if self.group.fallbacks != self.fallbacks:
            self.fallbacks = self.group.fallbacks
            self.get_logger().warning("classical fallback: " + "; ".join(self.group.fallen_back()))
        self._publish_statuses()

    def _publish_statuses(self) -> None:
        if not self.ready_at and self.loop.ready:  # once: start -> ready, for people and benches
            self.ready_at = self.now()
            self.get_logger().info("ready: joint states heard, every command topic matched")
        statuses = self.loop.statuses(self.now(), self.realtime)
        self.diagnostics.publish(diagnostic_array(self.get_clock().now(), statuses))


def build_nodes() -> Sequence[Node]:
    return AgentHost().nodes


def main(args: list[str] | None = None) -> int:
    return run_nodes(build_nodes, args, tune_timer_slack=False)  # robot.yaml's timer_slack_ns


if __name__ == "__main__":
    raise SystemExit(main())
