"""`llm-mas-ros monitor`: a live terminal view of every agent and the planner of a graph.

A small node hears /diagnostics (statuses, decoded by the one codec) and /joint_states on the
environment's ROS_DOMAIN_ID, so it watches `llm-mas-ros up`, `ros2 launch` or any graph on the
domain; it publishes nothing. The screen (rich's Live, on the terminal's alternate screen) is
redrawn at `refresh_hz` between callbacks of one EventsExecutor; `q` or Ctrl-C ends it with
exit 0 and the terminal as it was.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import tty
from collections.abc import Callable, Iterator

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rich.console import Console
from rich.live import Live
from sensor_msgs.msg import JointState

from ..core.robot.model import RobotModel
from . import qos, topics
from .graph import spin_until
from .messages import agent_statuses, planner_status
from .monitor_view import Board, render
from .runtime import close_executor, make_executor, monotonic

QUIT_KEYS = frozenset("qQ")
REFRESH_HZ = 10.0


class MonitorNode(Node):
    """Hears the statuses and joint states into a `Board`; publishes nothing."""

    def __init__(self, robot: RobotModel, node_name: str) -> None:
        super().__init__(node_name)
        self.board = Board(robot)
        self.create_subscription(
            DiagnosticArray, topics.DIAGNOSTICS, self._on_diagnostics, qos.DIAGNOSTICS
        )
        self.create_subscription(
            JointState, topics.JOINT_STATES, self._on_joint_state, qos.JOINT_STATES
        )

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        now = monotonic()
        self.board.hear_agents(agent_statuses(message), now)
        self.board.hear_planner(planner_status(message), now)

    def _on_joint_state(self, message: JointState) -> None:
        self.board.hear_joints(dict(zip(message.name, message.position, strict=False)))


def run_monitor(
    robot: RobotModel,
    refresh_hz: float = REFRESH_HZ,
    timeout_s: float = float("inf"),
    node_name: str | None = None,
) -> int:
    """Show the graph until `q`, Ctrl-C or `timeout_s`; returns the exit code (0). Needs
    rclpy initialised (the CLI's `_ros()`), with Ctrl-C left a KeyboardInterrupt."""
    node = MonitorNode(robot, node_name or f"llm_mas_monitor_{os.getpid()}")
    executor = make_executor()
    executor.add_node(node)
    domain = os.environ.get("ROS_DOMAIN_ID", "0")
    title = f"llm-mas-ros monitor: ROS_DOMAIN_ID={domain}; q or Ctrl-C quits"
    period_s = 1.0 / refresh_hz
    console = Console()
    try:
        with keys() as pressed, Live(console=console, screen=True, auto_refresh=False) as live:
            next_draw = [0.0]

            def quit_or_draw() -> bool:
                if QUIT_KEYS & set(pressed()):
                    return True
                now = monotonic()
                if now >= next_draw[0]:
                    live.update(render(node.board, now, title), refresh=True)
                    next_draw[0] = now + period_s
                return False

            spin_until(executor, quit_or_draw, timeout_s, step_s=period_s)
    except KeyboardInterrupt:
        pass
    finally:
        close_executor(executor, [node])
    return 0


@contextlib.contextmanager
def keys() -> Iterator[Callable[[], str]]:
    """Keys pressed on stdin, without waiting for Enter (cbreak: Ctrl-C still interrupts);
    yields a function returning those typed since its last call. The terminal's settings are
    restored on the way out. Without a terminal on stdin no key is read."""
    stdin = sys.stdin
    if not stdin or not stdin.isatty():
        yield lambda: ""
        return
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def pressed() -> str:
        typed = ""
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 64)
            if not chunk:
                break
            typed += chunk.decode(errors="replace")
        return typed

    try:
        yield pressed
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
