"""One agent's own ROS node: its name, its goal topic, its controller's command topic.

Every agent is its own node (ARCHITECTURE section 7), so `ros2 node list` shows it, its goal
topic is `<agent>/goal` and its warnings carry its name; the process's `agent_host` node owns
what agents share and the batched control step, and hands each agent node its commands.
"""

from __future__ import annotations

from collections.abc import Callable

from rclpy.node import Node
from std_msgs.msg import Float64MultiArray, String

from ..core.control.latched import GoalInbox
from ..core.robot.model import Agent
from . import qos
from .params import declare


class AgentNode(Node):
    """One agent's own node: its goal topic, its command topic, its identity parameters."""

    def __init__(
        self, agent: Agent, on_goal: Callable[[str, str], str], now: Callable[[], float]
    ) -> None:
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
        self.inbox = GoalInbox()
        qos.subscribe_latched(self, String, "~/goal", qos.GOALS, self._on_live, self._on_latched)

    def _on_live(self, message: String) -> None:
        if self.inbox.live(message.data, self.now()):
            self._receive(message.data)

    def _on_latched(self, message: String) -> None:
        if self.inbox.latched(message.data, self.now()):
            self._receive(message.data)

    def _receive(self, text: str) -> None:
        if error := self.on_goal(self.agent.name, text):
            self.get_logger().warning(error)

    def send(self, position: float) -> None:
        self.command.data[0] = position
        self.commands.publish(self.command)
