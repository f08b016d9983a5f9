"""Executing a plan step by step from agent statuses, without ROS.

The planner node feeds statuses (from /diagnostics) and the clock in, dispatches what this
state machine hands out, and sends HOLD_GOAL to the agents in `hold` once it has finished.
A step is done when every agent of it reports done for *its* goal, told by the goal's id: an
agent counts the goals it receives (`goal_count`), so a status from before the dispatch can
never complete a step, and reports a digest of the goal's text, which tells ours from someone
else's. A step fails on an agent error, on an agent that is not running or stops reporting, on
a goal overridden by someone else, or on timeout. Times in s on a monotonic clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..control.agent import AgentState, AgentStatus, goal_digest
from .plan import Goal, Step

HOLD_GOAL = "hold"  # agent language: stop where you are
HOLD_DIGEST = goal_digest(HOLD_GOAL)


@dataclass(frozen=True)
class AgentReport:
    """An agent's status as the planner heard it, and when (monotonic s)."""

    status: AgentStatus
    received_at: float


class ExecutionState(StrEnum):
    """Where an instruction is; every instruction ends in exactly one of the last six."""

    IDLE = "idle"
    QUEUED = "queued"  # waiting for the instructions before it to end
    RUNNING = "running"
    DONE = "done"  # every step done
    STOPPED = "stopped"  # it was a stop ('stop', 'hold', ...), and every agent holds: success
    REJECTED = "rejected"  # the shield refused a goal (the steps before it ran)
    PREEMPTED = "preempted"  # a later instruction replaced it, or a stop stopped it
    FAILED = "failed"  # an agent failed, stopped reporting, or took someone else's goal
    TIMED_OUT = "timed out"  # a step did not finish within its duration and margin


FINISHED_EXECUTION_STATES = frozenset(ExecutionState) - {
    ExecutionState.IDLE,
    ExecutionState.QUEUED,
    ExecutionState.RUNNING,
}
SUCCESSFUL_EXECUTION_STATES = frozenset({ExecutionState.DONE, ExecutionState.STOPPED})


FINISHED_STATES = {AgentState.DONE, AgentState.HOLDING}
FAILED_STATES = {AgentState.ERROR, AgentState.ESTOP}


@dataclass
class _Pending:
    goal: Goal
    baseline: int  # the agent's goal_count before our goal
    hold_ahead: bool = False  # our own HOLD_GOAL may still show before our goal does
    finished: bool = False
    digest: str = ""  # of our goal's text: what the agent reports once it runs our goal

    def __post_init__(self) -> None:
        self.digest = goal_digest(self.goal.goal)  # once, not on every status heard


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
    hold: tuple[str, ...] = ()  # agents to tell HOLD_GOAL: a step cut short left them moving
    _rejection: str = ""  # why the plan is rejected once its steps are done
    _held_before: frozenset[str] = frozenset()
    _current: dict[str, _Pending] = field(default_factory=dict)
    _deadline: float = 0.0

    @property
    def current_step(self) -> int:
        """1-based number of the running step (0 before the first)."""
        return self.steps_done + (1 if self._current else 0)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_EXECUTION_STATES

    def add_step(self, step: Step) -> None:
        if not self.finished:
            self.queued.append(step)

    def end_planning(self, rejection: str = "") -> None:
        """No more steps will come; with `rejection` (the shield refused a goal), the plan ends
        REJECTED, for that reason, once the steps before the refused goal are done."""
        self.planning_done = True
        self._rejection = rejection

    def held_before(self, agents: Iterable[str]) -> None:
        """HOLD_GOAL went to `agents` just before this plan (its predecessor was cut short):
        a status showing that hold is not someone else's goal overriding ours. Holds add up:
        a stop's holds, then those of an instruction this plan replaced later, all count."""
        self._held_before |= frozenset(agents)

    def fail(self, reason: str, spare: str = "") -> None:
        self._finish(ExecutionState.FAILED, reason, spare)

    def stop(self, reason: str) -> None:
        """This instruction was a stop, and the agents were told to hold."""
        self._finish(ExecutionState.STOPPED, reason)

    def preempt(self, reason: str) -> None:
        """A later instruction (or a stop) takes over; the agents still on ours are to hold."""
        self._finish(ExecutionState.PREEMPTED, reason)

    def reject(self, reason: str) -> None:
        """Refused before it started (nothing of it was sent)."""
        self._finish(ExecutionState.REJECTED, reason)

    def abort(self, reason: str) -> None:
        """Fail without telling anyone to hold: the agents were stopped already (an e-stop)."""
        self._finish(ExecutionState.FAILED, reason)
        self.hold = ()

    def update(self, reports: Mapping[str, AgentReport], now: float) -> Step | None:
        """Advance with the latest reports; returns the next step to dispatch, if one is due.
        The caller must then send its goals and call `dispatched(step, reports, now)`."""
        if self.finished:
            return None
        if self._current:
            self._check_current(reports, now)
        if self.finished or self._current:
            return None
        if self.queued:
            step = self.queued[0]
            silent = self._silent((goal.agent for goal in step), reports, now)
            if silent:  # nothing of this step has been sent: fail before anything moves
                self.fail(f"agent {silent} is not running (no status for {self._timeout})")
                return None
            return step
        if self.planning_done:
            if self._rejection:
                self._finish(ExecutionState.REJECTED, self._rejection)
            else:
                self.state = ExecutionState.DONE
        return None

    def dispatched(self, step: Step, reports: Mapping[str, AgentReport], now: float) -> None:
        """Record that `step` went out: from now on only newer goals of its agents count."""
        assert self.queued and self.queued[0] is step
        self.queued.popleft()
        self.state = ExecutionState.RUNNING
        for goal in step:
            # (When our goal is a hold too, whichever hold shows completes it.)
            hold_ahead = goal.agent in self._held_before and goal.goal != HOLD_GOAL
            baseline = reports[goal.agent].status.goal_count
            self._current[goal.agent] = _Pending(goal, baseline, hold_ahead)
        longest = max((goal.longest_s or goal.duration_s or 0.0 for goal in step), default=0.0)
        self._deadline = now + longest + self.step_timeout_margin_s

    # -- internals ------------------------------------------------------------------------------
    @property
    def _timeout(self) -> str:
        return f"{self.agent_timeout_s:g} s"

    def _silent(
        self, agents: Iterable[str], reports: Mapping[str, AgentReport], now: float
    ) -> str | None:
        """The first of `agents` without a status for agent_timeout_s, if any."""
        for name in agents:
            report = reports.get(name)
            if report is None or now - report.received_at > self.agent_timeout_s:
                return name
        return None

    def _finish(self, state: ExecutionState, reason: str, spare: str = "") -> None:
        """End the execution; agents of the running step that are still on our goal (or about
        to receive it) are to hold. `spare`: an agent that already stopped, or took someone
        else's goal, which a hold must not override."""
        if self.finished:
            return
        self.state, self.reason = state, reason
        self.hold = tuple(
            name
            for name, pending in self._current.items()
            if not pending.finished and name != spare
        )

    def _check_current(self, reports: Mapping[str, AgentReport], now: float) -> None:
        for name, pending in self._current.items():
            heard = reports.get(name)
            if heard is None or heard.status.goal_count <= pending.baseline:
                continue  # our goal has not reached the agent yet
            status = heard.status
            if pending.hold_ahead and status.goal_digest == HOLD_DIGEST:
                # A hold sent before our goal: ours comes after it. Several may show, one per
                # predecessor cut short before ours went out (a flood of instructions).
                pending.baseline = status.goal_count
                continue
            pending.hold_ahead = False
            if status.goal_digest != pending.digest:
                self.fail(
                    f"{name} received another goal ({status.goal!r}) while running "
                    f"{pending.goal.goal!r}",
                    spare=name,
                )
                return
            if status.state in FAILED_STATES:
                self.fail(f"{name}: {status.error or status.state.value}", spare=name)
                return
            pending.finished = status.state in FINISHED_STATES
        if all(p.finished for p in self._current.values()):
            self._current.clear()
            self.steps_done += 1
            return
        waiting = [name for name, pending in self._current.items() if not pending.finished]
        silent = self._silent(waiting, reports, now)
        if silent:  # noticed within agent_timeout_s, not only at the step deadline
            self.fail(f"agent {silent} stopped reporting (no status for {self._timeout})")
        elif now > self._deadline:
            waiting_for = ", ".join(waiting)
            self._finish(
                ExecutionState.TIMED_OUT,
                f"step {self.current_step} timed out waiting for {waiting_for}",
            )
