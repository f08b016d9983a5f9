"""mujoco_sim: the embedded simulator, with the topics of a ros2_control robot.

Publishes /joint_states (sensor_msgs/JointState) and accepts <controller>/commands
(std_msgs/Float64MultiArray, one value) per joint, exactly like forward command controllers, so
agents drive it, Gazebo or a real robot unchanged. Physics steps in real time at
physics_rate_hz, caught up on each publish tick. With `viewer` it shows in MuJoCo's viewer where
a display exists; with `record` it renders the motion to a file written at shutdown.
"""

from __future__ import annotations

from functools import partial

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from ..core.control.agent import Level
from ..core.planning.status import SimStatus
from ..core.sim.arm import ArmSimulation
from ..core.sim.recording import SimView
from ..ros import qos, topics
from ..ros.messages import sim_diagnostic
from ..ros.params import declare_robot, declare_sim
from ..ros.runtime import monotonic, run_nodes

MAX_LAG_S = 0.1  # behind real time by more than this: skip ahead instead of racing to catch up
DIAGNOSTIC_PERIOD_S = 1.0


class MujocoSimNode(Node):
    def __init__(self) -> None:
        super().__init__("mujoco_sim")
        robot = declare_robot(self)
        settings = declare_sim(self)
        self.sim = ArmSimulation(robot, settings)
        self.state = JointState(name=list(self.sim.joint_names))
        self.joint_states = self.create_publisher(
            JointState,
            topics.JOINT_STATES,
            qos.JOINT_STATES,
            qos_overriding_options=qos.overridable(),
        )
        self.diagnostics = self.create_publisher(
            DiagnosticArray,
            topics.DIAGNOSTICS,
            qos.DIAGNOSTICS,
            qos_overriding_options=qos.overridable(),
        )
        self.command_subscriptions = [
            self.create_subscription(
                Float64MultiArray,
                agent.command_topic,
                partial(self._on_command, index, agent.command_topic),
                qos.COMMANDS,
                qos_overriding_options=qos.overridable(),
            )
            for index, agent in enumerate(robot.agents)
        ]
        self.rejected_commands = 0
        self.skipped_s = 0.0
        # Set at the first tick: the time the node took to start (discovery, the first
        # commands arriving) is not simulated, so the first /joint_states is the initial pose.
        self.clock_origin: float | None = None
        self.view = SimView(self.sim, settings)
        for warning in self.view.warnings:
            self.get_logger().warning(warning)
        for note in self.view.notes:
            self.get_logger().info(note)
        self.create_timer(1.0 / settings.publish_rate_hz, self._tick)
        self.create_timer(DIAGNOSTIC_PERIOD_S, self._report)
        self.get_logger().info(
            f"simulating {len(self.sim.joint_names)} joints at {settings.physics_rate_hz:g} Hz, "
            f"publishing {topics.JOINT_STATES} at {settings.publish_rate_hz:g} Hz"
        )

    def _on_command(self, index: int, topic: str, message: Float64MultiArray) -> None:
        # Like forward_command_controller: exactly one value per joint, or the command is dropped.
        if len(message.data) != 1 or not self.sim.set_command(index, float(message.data[0])):
            self.rejected_commands += 1
            self.get_logger().warning(
                f"{topic}: expected one finite value, got {list(message.data)[:4]}",
                throttle_duration_sec=1.0,
            )

    def _tick(self) -> None:
        if self.clock_origin is None:
            self.clock_origin = monotonic() - self.sim.time
        target = monotonic() - self.clock_origin
        if target - self.sim.time > MAX_LAG_S:
            self.skipped_s += target - self.sim.time
            self.clock_origin += target - self.sim.time
            target = self.sim.time
        self.sim.advance_to(target)
        self.view.update()
        self.state.header.stamp = self.get_clock().now().to_msg()
        self.state.position = self.sim.positions.tolist()
        self.state.velocity = self.sim.velocities.tolist()
        self.state.effort = self.sim.efforts.tolist()
        self.joint_states.publish(self.state)

    def destroy_node(self) -> None:
        for note in self.view.close():  # the recording is written here, at a clean shutdown
            self.get_logger().info(note)
        super().destroy_node()

    def _report(self) -> None:
        behind = self.skipped_s > 0
        status = SimStatus(
            Level.WARN if behind else Level.OK,
            f"behind real time: skipped {self.skipped_s:.2f} s" if behind else "running",
            self.sim.time,
            self.rejected_commands,
        )
        self.diagnostics.publish(sim_diagnostic(self.get_name(), self.get_clock().now(), status))


def main(args: list[str] | None = None) -> int:
    return run_nodes(lambda: [MujocoSimNode()], args)


if __name__ == "__main__":
    raise SystemExit(main())
