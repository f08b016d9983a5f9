"""`llm-mas-ros monitor` under a pseudo-terminal, against the whole graph as processes: the
screen is read until it shows what is expected (never a sleep), then `q` or Ctrl-C ends it.

The graph's simulator runs with `viewer` on and no display: it says so in one line and runs on
(the monitor seeing joint positions and agent states proves it)."""

import contextlib
import dataclasses
import fcntl
import os
import re
import selectors
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_mas_ros.core.control.agent import AgentState
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.core.sim.arm import DISPLAY_VARIABLES
from llm_mas_ros.launcher.bringup import node_list
from llm_mas_ros.launcher.processes import ProcessGroup

ROBOT = load_robot()
ROWS, COLUMNS = 40, 160
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-B]|[=>78])")
STATES = "|".join(state.value for state in AgentState)
MONITOR = """
import fcntl, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty is this session's terminal: Ctrl-C is SIGINT
from llm_mas_ros.cli import main
sys.exit(main(["monitor"]))  # `llm-mas-ros monitor`, as a person starts it
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> Iterator[ProcessGroup]:
    """sim (viewer on, no display) + agents + planner (rules: ready at once)."""
    specs = [
        dataclasses.replace(spec, parameters={**spec.parameters, "viewer": True})
        if spec.name == "mujoco_sim"
        else spec
        for spec in node_list(planner_backend="rules")
    ]
    env = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARIABLES}
    group = ProcessGroup(specs, log_dir=tmp_path_factory.mktemp("logs"), env=env)
    with group:
        yield group
    assert not group.running, "processes survived stop()"


class Terminal:
    """A process on a pseudo-terminal of ROWS x COLUMNS, and what it has drawn so far."""

    def __init__(self, code: str) -> None:
        master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            start_new_session=True,
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "", "LINES": ""},
        )
        self.output = ""
        self.selector = selectors.DefaultSelector()
        self.selector.register(master, selectors.EVENT_READ)

    def read_until(self, done, timeout_s: float) -> bool:
        """Read the screen until `done(text)` holds (text without escape codes)."""
        deadline = time.monotonic() + timeout_s
        while not done(self.text()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.selector.select(timeout=min(remaining, 1.0)):
                try:
                    self.output += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the process has gone and closed its side
                    return done(self.text())
        return True

    def text(self) -> str:
        return ANSI.sub("", self.output[-40000:])

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait(self, timeout_s: float = 60.0) -> int:
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read_until(lambda _: False, min(1.0, deadline - time.monotonic()))
        return self.process.wait(timeout=1.0)

    def canonical(self) -> bool:
        """The terminal is back in line mode with echo (as the monitor found it)."""
        lflag = termios.tcgetattr(self.slave)[3]
        return bool(lflag & termios.ICANON and lflag & termios.ECHO)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.selector.close()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


@contextlib.contextmanager
def monitor() -> Iterator[Terminal]:
    terminal = Terminal(MONITOR)
    try:
        yield terminal
    finally:
        terminal.close()


def every_agent_has_a_state(text: str) -> bool:
    """The screen shows each agent's name with a state, and the planner ready."""
    frame = text[-20000:]
    rows = all(re.search(rf"\b{agent.name}\b\s*│\s*({STATES})\b", frame) for agent in ROBOT.agents)
    return rows and re.search(r"planner\s+ready", frame) is not None


def joint_positions_shown(text: str) -> bool:
    return re.search(r"\belbow\b[^\n]*\b-?\d+\.\d deg\b", text[-20000:]) is not None


def sim_log(group: ProcessGroup) -> str:
    (sim,) = [r for r in group.running if r.spec.name == "mujoco_sim"]
    assert sim.log is not None
    return Path(sim.log).read_text()


def test_the_monitor_shows_every_agent_and_quits_on_q(graph):
    with monitor() as terminal:
        shown = terminal.read_until(every_agent_has_a_state, timeout_s=90.0)
        assert shown, f"the screen never showed every agent's state:\n{terminal.text()[-4000:]}"
        assert terminal.read_until(joint_positions_shown, timeout_s=10.0)
        terminal.type(b"q")
        assert terminal.wait() == 0, terminal.text()[-2000:]
        assert terminal.canonical()
        assert "Traceback" not in terminal.text()
    assert graph.failed() is None
    viewer = [line for line in sim_log(graph).splitlines() if "viewer:" in line]
    assert len(viewer) == 1 and "no display" in viewer[0] and "runs without it" in viewer[0]


def test_the_monitor_exits_0_on_ctrl_c_with_the_terminal_restored(graph):
    with monitor() as terminal:
        assert terminal.read_until(every_agent_has_a_state, timeout_s=60.0), terminal.text()
        terminal.type(b"\x03")  # the terminal's interrupt character: SIGINT to the monitor
        assert terminal.wait() == 0, terminal.text()[-2000:]
        assert terminal.canonical()
        assert "Traceback" not in terminal.text()
