"""The naive build's agent: one agent per process, as code written without latency in mind is.

What differs from the tuned runtime (nodes/agents_node.py), and nothing else: its own process
and node per agent, `rclpy.spin` (the SingleThreadedExecutor), default QoS (`10`: reliable,
keep last 10) on /joint_states and its command topic, the joint looked up by name in every
message, a new command message per step, and the learned network stepped in eager torch for
this agent alone (core.control.torch_policy.TorchPolicy, on the CPU). Its agent logic is the
same AgentCore, so it computes the same commands.

Parameters: config/robot.yaml, and `agents` naming the one agent it runs. torch runs one
thread: seven processes with two intra-op threads each would fight over two cores, a handicap
the comparison should not hand the naive build.
"""

from __future__ import annotations

import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from ..core.control.agent import AgentGroup
from ..core.control.learned_policy import PolicyWeights
from ..core.control.torch_policy import TorchPolicy
from ..core.errors import ConfigError, LlmMasError
from ..ros.params import declare_hosted_agents, declare_robot
from ..ros.runtime import die_with_launcher


class NaiveAgent(Node):
    def __init__(self) -> None:
        super().__init__("naive_agent")
        robot = declare_robot(self)
        hosted = declare_hosted_agents(self) or ()
        if len(hosted) != 1:
            raise ConfigError(f"a naive agent runs exactly one agent, got agents={hosted}")
        agent = robot.agent(hosted[0])
        import torch

        torch.set_num_threads(1)
        weights = PolicyWeights.load(robot.control.policy_weights_path())
        self.group = AgentGroup([agent], robot, TorchPolicy(weights, [agent.name]))
        self.joint = agent.joint.name
        self.publisher = self.create_publisher(Float64MultiArray, agent.command_topic, 10)
        self.create_subscription(JointState, "joint_states", self._on_state, 10)
        self.create_subscription(String, agent.goal_topic, self._on_goal, 10)

    def _on_goal(self, message: String) -> None:
        self.group.cores[0].receive_goal(message.data, time.monotonic())

    def _on_state(self, message: JointState) -> None:
        now = time.monotonic()
        names = list(message.name)
        if self.joint not in names:
            return
        index = names.index(self.joint)
        velocity = message.velocity[index] if index < len(message.velocity) else 0.0
        self.group.cores[0].observe(message.position[index], velocity, now)
        if self.group.due(now):
            commands = self.group.step(now)
            if commands is not None:
                self.publisher.publish(Float64MultiArray(data=[float(commands[0])]))


def main(args: list[str] | None = None) -> int:
    die_with_launcher()
    rclpy.init(args=args)
    node = None
    try:
        node = NaiveAgent()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except LlmMasError as error:
        print(f"error: {error}")
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
