"""Executing a plan step by step from agent statuses, without ROS.

The planner node feeds statuses (from /diagnostics) and the clock in, and dispatches what this
state machine hands out. A step is done when every agent of it reports done for *its* goal:
an agent counts the goals it receives (`goal_count`), so a status from before the dispatch can
never complete a step. A step fails on an agent error, on an agent that is not running, on a
goal overridden by someone else, or on timeout. Times in s on a monotonic clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from .agent import AgentState
from .plan import Goal, Step


@dataclass(frozen=True)
class AgentReport:
    """The part of an agent's status the executor needs (parsed from /diagnostics)."""

    name: str
    state: AgentState
    goal: str
    goal_count: int
    error: str
    received_at: float
    position: float = float("nan")  # rad or m, as the agent last measured it


class ExecutionState(str, Enum):
    IDLE = "idle"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


FINISHED_STATES = {AgentState.DONE, AgentState.HOLDING}
FAILED_STATES = {AgentState.ERROR, AgentState.ESTOP}


@dataclass
class _Pending:
    goal: Goal
    baseline: int  # the agent's goal_count before our goal
    finished: bool = False


@dataclass
class PlanExecution:
    """One plan's execution. Steps may be appended while planning is still streaming."""

    step_timeout_margin_s: float = 5.0
    agent_timeout_s: float = 2.0
    state: ExecutionState = ExecutionState.IDLE
    reason: str = ""
    steps_done: int = 0
    queued: deque[Step] = field(default_factory=deque)
    planning_done: bool = False
    _current: dict[str, _Pending] = field(default_factory=dict)
    _deadline: float = 0.0

    @property
    def current_step(self) -> int:
        """1-based number of the running step (0 before the first)."""
        return self.steps_done + (1 if self._current else 0)

    @property
    def finished(self) -> bool:
        return self.state in (ExecutionState.DONE, ExecutionState.FAILED, ExecutionState.STOPPED)

    def add_step(self, step: Step) -> None:
        if not self.finished:
            self.queued.append(step)

    def end_planning(self) -> None:
        self.planning_done = True

    def fail(self, reason: str) -> None:
        if not self.finished:
            self.state, self.reason = ExecutionState.FAILED, reason

    def stop(self, reason: str) -> None:
        if not self.finished:
            self.state, self.reason = ExecutionState.STOPPED, reason

    def update(self, reports: dict[str, AgentReport], now: float) -> Step | None:
        """Advance with the latest reports; returns the next step to dispatch, if one is due.
        The caller must then call `dispatched(step, reports, now)`."""
        if self.finished:
            return None
        if self._current:
            self._check_current(reports, now)
        if self.finished or self._current:
            return None
        if self.queued:
            return self.queued[0]
        if self.planning_done:
            self.state = ExecutionState.DONE
        return None

    def dispatched(self, step: Step, reports: dict[str, AgentReport], now: float) -> None:
        """Record that `step` went out: from now on only newer goals of its agents count."""
        assert self.queued and self.queued[0] is step
        self.queued.popleft()
        self.state = ExecutionState.RUNNING
        for goal in step:
            report = reports.get(goal.agent)
            if report is None or now - report.received_at > self.agent_timeout_s:
                self.fail(
                    f"agent {goal.agent} is not running (no status for {self.agent_timeout_s:g} s)"
                )
                return
            self._current[goal.agent] = _Pending(goal, report.goal_count)
        longest = max((goal.duration_s or 0.0 for goal in step), default=0.0)
        self._deadline = now + longest + self.step_timeout_margin_s

    def _check_current(self, reports: dict[str, AgentReport], now: float) -> None:
        for name, pending in self._current.items():
            report = reports.get(name)
            if report is None or report.goal_count <= pending.baseline:
                continue  # our goal has not reached the agent yet
            if report.goal != pending.goal.goal:
                self.fail(
                    f"{name} received another goal ({report.goal!r}) while running "
                    f"{pending.goal.goal!r}"
                )
                return
            if report.state in FAILED_STATES:
                self.fail(f"{name}: {report.error or report.state.value}")
                return
            pending.finished = report.state in FINISHED_STATES
        if all(p.finished for p in self._current.values()):
            self._current.clear()
            self.steps_done += 1
        elif now > self._deadline:
            late = ", ".join(n for n, p in self._current.items() if not p.finished)
            self.fail(f"step {self.current_step} timed out waiting for {late}")
