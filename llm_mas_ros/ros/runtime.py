"""Process plumbing for node executables: init, the executor, clean Ctrl-C, timer slack and
the agents' real-time settings, and stopping with the pip-only launcher."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ..core.control.realtime import LinuxSystem, apply_realtime, demote_current_thread
from ..core.errors import LlmMasError
from ..core.robot.model import ControlSettings
from ..launcher.processes import LAUNCHER_ENV

PR_SET_PDEATHSIG = 1


def reduce_timer_slack() -> None:
    """Ask Linux for 1 ns timer slack (default 50 us): timer wake-ups get less late. For
    processes without robot.yaml's real-time settings (the agents process applies those:
    apply_control_settings)."""
    with contextlib.suppress(OSError):  # not Linux: nothing to tune
        LinuxSystem().set_timer_slack(1)


def apply_control_settings(node: Node, control: ControlSettings) -> tuple[str, ...]:
    """Apply robot.yaml's real-time settings (timer_slack_ns, cpu_affinity, thread_priority,
    lock_memory) to this process, from its control thread, before the executor starts its
    threads (they inherit them). Logs one line per setting that could not be applied, with
    the reason; returns each outcome's line for the agents' status."""
    outcomes = apply_realtime(control, LinuxSystem())
    for outcome in outcomes:
        if not outcome.applied:
            node.get_logger().warning(outcome.line())
    return tuple(outcome.line() for outcome in outcomes)


def die_with_launcher() -> None:
    """Stop (SIGINT, as the launcher's own stop does) when the `llm-mas-ros up/run` process
    that started this one dies, even by SIGKILL: it starts every node in a session of its own,
    so nothing else would reach them. Only for processes it started (it names its pid in
    LAUNCHER_ENV); under `ros2 launch` or a shell nothing changes. Called from run_nodes, in
    the final process: the ROS wheels' re-exec of Python (at interpreter start) is behind us."""
    launcher = os.environ.pop(LAUNCHER_ENV, "")  # popped: processes this one starts are not ours
    if not launcher.isdigit():
        return
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the launcher's stop() only
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
    if os.getppid() != int(launcher):  # it died before the prctl took effect
        raise SystemExit(0)
    with contextlib.suppress(OSError, AttributeError):  # no pidfd: the signal alone
        watched = os.pidfd_open(int(launcher))
        threading.Thread(
            target=_exit_after_launcher, args=(watched,), name="launcher_watch", daemon=True
        ).start()


ORPHAN_GRACE_S = 5.0  # after the launcher died, time for the SIGINT's clean stop (s)


def _exit_after_launcher(watched: int) -> None:
    """A backstop to the parent-death SIGINT: a signal that came while the process could not
    act on it (mid-start, a non-daemon thread left behind) would leave it running under pid 1,
    holding the ROS graph; ORPHAN_GRACE_S after the launcher's exit it leaves at once. Waits
    on a pidfd, which turns readable when the launcher exits: an event, no polling."""
    select.select([watched], [], [])
    time.sleep(ORPHAN_GRACE_S)  # the clean stop normally ends the process during this
    os._exit(0)


def demote_thread(node: Node, nice: int) -> None:
    """Lower the calling thread (a planner's decoding worker) `nice` steps below the control
    loops, SCHED_BATCH (robot.yaml decode_nice; 0: leave it); logs why where it cannot."""
    why = demote_current_thread(nice) if nice > 0 else ""
    if why:
        node.get_logger().warning(why)


def make_executor() -> EventsExecutor:
    """The executor for control processes: ~17 us per hop here vs ~103 us for the
    SingleThreadedExecutor; MultiThreadedExecutor stalls under load and is never used."""
    return EventsExecutor()


def close_executor(executor: EventsExecutor, nodes: Sequence[Node]) -> None:
    """Destroy `nodes` and shut `executor` down. The EventsExecutor keeps the DDS entities of
    every node it ever held alive until it is shut down: a destroyed node's latched goal
    publisher stays on the graph, and every later subscriber on the domain receives its goal."""
    for node in nodes:
        executor.remove_node(node)
        node.destroy_node()
    executor.shutdown()


def spin(executor: EventsExecutor, stop: threading.Event, period_s: float = 0.5) -> None:
    """Spin until `stop` is set or rclpy shuts down. A spin_once loop, because
    EventsExecutor.spin() of the kilted rclpy 9.1.2 wheel delivers no callbacks and burns a core
    (measured here: 0 of 1500 messages, 54% CPU); spin_once delivers them all at 5% CPU."""
    while rclpy.ok() and not stop.is_set():
        executor.spin_once(timeout_sec=period_s)


def stop_on_signals() -> threading.Event:
    """SIGINT (Ctrl-C, `ros2 launch` shutdown) and SIGTERM end the spin loop between two
    callbacks. rclpy's own handlers would raise KeyboardInterrupt inside whichever callback is
    running (a physics step, a publish) and log it as a FATAL callback exception."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop


def run_nodes(
    build: Callable[[], Sequence[Node]],
    args: Sequence[str] | None = None,
    tune_timer_slack: bool = True,
) -> int:
    """Init rclpy, build the nodes, spin them on one EventsExecutor until shutdown.
    `tune_timer_slack` False: the nodes set it themselves (apply_control_settings).

    Ctrl-C and `ros2 launch` shutdown exit 0; a configuration error prints one line and exits 2.
    """
    die_with_launcher()
    if tune_timer_slack:
        reduce_timer_slack()
    rclpy.init(
        args=list(args) if args is not None else sys.argv,
        signal_handler_options=SignalHandlerOptions.NO,  # see stop_on_signals
    )
    nodes: Sequence[Node] = ()
    try:
        nodes = build()  # a Ctrl-C while building (a model loading) is a KeyboardInterrupt
        executor = make_executor()
        for node in nodes:
            executor.add_node(node)
        spin(executor, stop_on_signals())
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except LlmMasError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


class _RosLogHandler(logging.Handler):
    """Python logging records (e.g. model loading progress) on the node's ROS logger."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.logger = node.get_logger()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.logger.error(self.format(record))
        elif record.levelno >= logging.WARNING:
            self.logger.warning(self.format(record))
        else:
            self.logger.info(self.format(record))


def forward_python_logging(node: Node, name: str = "llm_mas_ros") -> None:
    """Send the package's Python logging (INFO and up) to `node`'s ROS logger."""
    package = logging.getLogger(name)
    package.addHandler(_RosLogHandler(node))
    package.setLevel(logging.INFO)
    package.propagate = False


def monotonic() -> float:
    """Seconds on CLOCK_MONOTONIC: the clock of every control and status time in the package,
    unless a node runs on simulated time (see `control_clock`)."""
    return time.monotonic()


def control_clock(node: Node) -> Callable[[], float]:
    """The clock (s) `node` controls and times out by: CLOCK_MONOTONIC (host-wide, so stamps
    of several processes compare), or the ROS clock under `use_sim_time:=true` (Gazebo's
    /clock: a simulation that runs slower than real time, or is paused, times out at its own
    pace, not the wall's)."""
    if not node.get_parameter("use_sim_time").value:
        return monotonic
    clock = node.get_clock()
    return lambda: clock.now().nanoseconds * 1e-9
