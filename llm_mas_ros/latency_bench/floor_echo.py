"""The floor of sense->act: a process that answers each /joint_states with command-sized
messages (std_msgs/Float64MultiArray, 1 value) with the control topics' QoS: one on
`echo/commands`, or with replies:=N one on each of `echo/commands_0` .. `_N-1`, as many as the
agents send (the prober waits for the last of them, as it does for the agents' commands).

waitset:=false (the rclpy echo): a node on the agents process's executor and spin loop
(ros/runtime.py), its callback publishing a message built once: what an agent costs without
the agent. waitset:=true (the wait-set echo): a bare rcl wait set, the state taken raw (not
deserialised), no executor: the least Python can do over DDS.
"""

from __future__ import annotations

import sys
import threading

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from ..ros import qos, topics
from ..ros.runtime import (
    die_with_launcher,
    make_executor,
    reduce_timer_slack,
    spin,
    stop_on_signals,
)
from .bench_systems import echo_topics

WAIT_S = 0.1  # the wait set's timeout: how soon a stop request is noticed


class Echo(Node):
    def __init__(self) -> None:
        super().__init__("bench_echo")
        self.waitset = bool(self.declare_parameter("waitset", False).value)
        replies = int(self.declare_parameter("replies", 1).value)
        self.reply = Float64MultiArray(data=[0.0])
        self.publishers_ = [
            self.create_publisher(Float64MultiArray, topic, qos.COMMANDS)
            for topic in echo_topics(replies)
        ]
        callback = (lambda _m: None) if self.waitset else self._on_state
        self.subscription = self.create_subscription(
            JointState, topics.JOINT_STATES, callback, qos.JOINT_STATES
        )

    def _on_state(self, _message: JointState) -> None:
        self._answer()

    def _answer(self) -> None:
        for publisher in self.publishers_:
            publisher.publish(self.reply)

    def serve_waitset(self, stop: threading.Event) -> None:
        """Answer every state taken from a bare wait set until `stop` is set."""
        sub = self.subscription
        context = self.context.handle
        wait_set = _rclpy.WaitSet(1, 0, 0, 0, 0, 0, context)  # type: ignore[arg-type]
        timeout_ns = int(WAIT_S * 1e9)
        while not stop.is_set():
            wait_set.clear_entities()
            wait_set.add_subscription(sub.handle)
            wait_set.wait(timeout_ns)
            while sub.handle.take_message(sub.msg_type, True) is not None:
                self._answer()


def main(args: list[str] | None = None) -> int:
    die_with_launcher()
    reduce_timer_slack()
    # stop_on_signals() ends the loop between two messages, as in the agents process
    rclpy.init(
        args=args if args is not None else sys.argv,
        signal_handler_options=SignalHandlerOptions.NO,
    )
    node = Echo()
    stop = stop_on_signals()
    try:
        if node.waitset:
            node.serve_waitset(stop)
        else:
            executor = make_executor()
            executor.add_node(node)
            spin(executor, stop)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
