"""What `llm-mas-ros monitor` shows, as data and as a rich renderable: no ROS, no terminal.

A `Board` keeps the newest typed status of every agent and of the planner (decoded by the one
status codec), and the newest joint positions; `render(board, now)` turns it into a table a
person reads at a glance. Units on screen: degrees for revolute joints, mm for prismatic ones
(the statuses carry rad and m); latencies in ms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..core.control.agent import AgentStatus, Level
from ..core.planning.status import PlannerStatus
from ..core.robot.model import JointType, RobotModel

STALE_S = 3.0  # an agent silent this long is shown stale (the planner fails such an agent)
NO_VALUE = "-"
LEVEL_STYLES = {Level.OK: "green", Level.WARN: "yellow", Level.ERROR: "red", Level.STALE: "dim"}


@dataclass(frozen=True)
class Latency:
    """An agent's latency percentiles (ms), where its status carries them."""

    p50_ms: float
    p99_ms: float


@dataclass
class AgentRow:
    name: str
    joint: str
    prismatic: bool
    status: AgentStatus | None = None
    heard_at: float | None = None  # when its last status arrived (monotonic s)
    latency: Latency | None = None


class Board:
    """The newest of everything the monitor heard. Agents of `robot` are listed in its order
    (also before they report); an agent of another robot on the domain is added when heard."""

    def __init__(self, robot: RobotModel) -> None:
        self.rows: dict[str, AgentRow] = {
            agent.name: AgentRow(
                agent.name, agent.joint.name, agent.joint.kind is JointType.PRISMATIC
            )
            for agent in robot.agents
        }
        self.joint_positions: dict[str, float] = {}
        self.planner: PlannerStatus | None = None
        self.planner_heard_at: float | None = None

    def hear_agents(self, statuses: Iterable[AgentStatus], now: float) -> None:
        for status in statuses:
            row = self.rows.setdefault(status.name, AgentRow(status.name, "", False))
            row.status, row.heard_at = status, now
            row.latency = getattr(status.latency, "state_to_command", None) or row.latency

    def hear_latency(self, agent: str, latency: Latency) -> None:
        if agent in self.rows:
            self.rows[agent].latency = latency

    def hear_planner(self, status: PlannerStatus | None, now: float) -> None:
        if status is not None:
            self.planner, self.planner_heard_at = status, now

    def hear_joints(self, positions: Mapping[str, float]) -> None:
        self.joint_positions.update(positions)

    def position(self, row: AgentRow) -> float | None:
        """The joint's newest position (rad or m): /joint_states, else the agent's status."""
        value = self.joint_positions.get(row.joint)
        if value is None and row.status is not None:
            value = row.status.position
        return value if value is not None and math.isfinite(value) else None


def render(board: Board, now: float, title: str = "llm-mas-ros monitor") -> RenderableType:
    """The planner's line, then one row per agent."""
    return Group(Text(title, style="bold"), _planner(board, now), _agents(board, now))


def _planner(board: Board, now: float) -> RenderableType:
    planner = board.planner
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    if planner is None:
        table.add_row("planner", Text("no status heard", style="dim"))
        return table
    stale = _stale(board.planner_heard_at, now)
    state = planner.state.value if planner.state else ("ready" if planner.ready else "starting")
    table.add_row("planner", _level(Level.STALE if stale else planner.level, state))
    steps = len(planner.plan.steps) if planner.plan else 0
    if planner.state is not None:
        table.add_row("instruction", Text(planner.instruction or NO_VALUE))
        table.add_row("step", f"{planner.step}/{steps}" if steps else str(planner.step))
    table.add_row("message", Text(planner.message or planner.readiness or NO_VALUE))
    if planner.reason:
        table.add_row("reason", Text(planner.reason, style="red"))
    return table


def _agents(board: Board, now: float) -> Table:
    latency = any(row.latency is not None for row in board.rows.values())
    table = Table(expand=False)
    for column in ("agent", "state", "goal", "target", "position", "error"):
        table.add_column(column, justify="right" if column in ("target", "position") else "left")
    if latency:
        table.add_column("p50 ms", justify="right")
        table.add_column("p99 ms", justify="right")
    for row in board.rows.values():
        status = row.status
        cells: list[RenderableType]
        if status is None:
            cells = [row.name, Text("no status", style="dim"), NO_VALUE, NO_VALUE]
        else:
            stale = _stale(row.heard_at, now)
            state = f"{status.state.value} (silent)" if stale else status.state.value
            cells = [
                row.name,
                _level(Level.STALE if stale else status.level, state),
                Text(status.goal or NO_VALUE, overflow="ellipsis", no_wrap=True),
                _quantity(status.target, row.prismatic),
            ]
        cells += [
            _quantity(board.position(row), row.prismatic),
            Text(status.error if status and status.error else "", style="red"),
        ]
        if latency:
            cells += _latency(row.latency)
        table.add_row(*cells)
    return table


def _latency(latency: Latency | None) -> list[RenderableType]:
    if latency is None:
        return [NO_VALUE, NO_VALUE]
    return [f"{latency.p50_ms:.2f}", f"{latency.p99_ms:.2f}"]


def _quantity(value: float | None, prismatic: bool) -> str:
    """rad as degrees, m as mm: what a person reads a joint in."""
    if value is None:
        return NO_VALUE
    return f"{value * 1000.0:.1f} mm" if prismatic else f"{math.degrees(value):.1f} deg"


def _level(level: Level, text: str) -> Text:
    return Text(text, style=LEVEL_STYLES.get(level, ""))


def _stale(heard_at: float | None, now: float) -> bool:
    return heard_at is None or now - heard_at > STALE_S
