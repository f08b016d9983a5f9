"""The planner's decisions without ROS: events in, effects out.

The planner node feeds a `Dispatcher` what happens (an instruction, agent statuses, a planned
step or plan from its planning thread, a stop, an e-stop, a clock tick) and carries out the
effects it returns (send a goal, announce a plan, plan an instruction, publish the status), in
order. One instruction runs at a time: a new one replaces the running one, whose agents still
moving are told to hold before any goal of the new plan goes out. A stop ('stop', 'hold', ...)
never waits for planning: every agent is told to hold at once. Times in s on a monotonic clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..control.agent import AgentStatus, Level
from ..robot.model import RobotModel
from .execution import (
    HOLD_GOAL,
    SUCCESSFUL_EXECUTION_STATES,
    AgentReport,
    ExecutionState,
    PlanExecution,
)
from .pipeline import STOP_PLANNER, is_stop
from .plan import Plan, Step
from .status import PlannerStatus, clip_text


@dataclass(frozen=True)
class SendGoal:
    agent: str
    goal: str


@dataclass(frozen=True)
class AnnouncePlan:
    """Publish the plan (on /plan) and log it."""

    plan: Plan


@dataclass(frozen=True)
class StartPlanning:
    """Plan instruction `number` off the executor thread, from the agents' `positions()`;
    hand back its steps, plan or error with `planned`, `finished_planning` or
    `planning_failed`."""

    number: int
    text: str


@dataclass(frozen=True)
class Report:
    """Publish the planner's status; `log` when it says how an instruction ended."""

    status: PlannerStatus
    log: str = ""


Effect = SendGoal | AnnouncePlan | StartPlanning | Report


@dataclass
class Job:
    """One instruction being planned/executed. Times on the monotonic clock (s)."""

    number: int
    text: str
    received_at: float
    execution: PlanExecution
    plan: Plan | None = None
    first_step_at: float | None = None
    finished_at: float | None = None

    @property
    def summary(self) -> str:
        execution = self.execution
        if not execution.finished:
            return (
                f"running step {execution.current_step}" if execution.current_step else "planning"
            )
        return execution.state.value + (f": {execution.reason}" if execution.reason else "")


class Dispatcher:
    """What the planner does, as a pure state machine over its events."""

    def __init__(
        self,
        robot: RobotModel,
        backend: str,
        step_timeout_margin_s: float = 5.0,
        agent_timeout_s: float = 2.0,
    ) -> None:
        self.robot = robot
        self.backend = backend
        self.step_timeout_margin_s = step_timeout_margin_s
        self.agent_timeout_s = agent_timeout_s
        self.reports: dict[str, AgentReport] = {}
        self.job: Job | None = None
        self.instruction_count = 0

    # -- events ---------------------------------------------------------------------------------
    def instruction(self, text: str, now: float) -> list[Effect]:
        self.instruction_count += 1
        job = Job(self.instruction_count, text, now, self._new_execution())
        previous, self.job = self.job, job
        effects: list[Effect] = []
        held: tuple[str, ...] = ()
        stop = is_stop(text)
        if previous is not None:
            how = "stopped" if stop else "replaced"
            previous.execution.preempt(f"{how} by instruction {job.number} ({clip_text(text)!r})")
            effects += self._conclude(previous, now)  # its holds go before the new goals
            # Those holds (sent now, or moments ago when it failed) may reach the agents'
            # statuses after the new plan's goals are sent: they are not foreign goals.
            held = previous.execution.hold
        if stop:
            effects += self._stop_all(job, now)
        else:
            job.execution.held_before(held)
            effects.append(StartPlanning(job.number, text))
        return [*effects, self.report(now)]

    def agent_statuses(self, statuses: Iterable[AgentStatus], now: float) -> list[Effect]:
        """Statuses of agents (others' are ignored) heard at `now`."""
        heard = [s for s in statuses if self.robot.has_agent(s.name)]
        for status in heard:
            self.reports[status.name] = AgentReport(status, now)
        return self._advance(now) if heard else []

    def planned(self, number: int, step: Step, now: float) -> list[Effect]:
        """Step of instruction `number` decoded and checked: it may go out now."""
        job = self._current(number)
        if job is None:
            return []
        job.first_step_at = job.first_step_at or now
        job.execution.add_step(step)
        return self._advance(now)

    def finished_planning(self, number: int, plan: Plan, now: float) -> list[Effect]:
        job = self._current(number)
        if job is None:
            return []
        job.plan = plan
        first = plan.rejected[0] if plan.rejected else None
        # The steps before a rejected goal run; then the plan fails with the rejection.
        job.execution.end_planning(f"rejected: {first.agent}: {first.reason}" if first else "")
        return [AnnouncePlan(plan), *self._advance(now)]

    def planning_failed(self, number: int, reason: str, now: float) -> list[Effect]:
        job = self._current(number)
        if job is None:
            return []
        job.execution.fail(f"cannot plan: {reason}")
        return self._advance(now)

    def emergency_stop(self, active: bool, now: float) -> list[Effect]:
        """An e-stop freezes the agents; the instruction that was running has failed."""
        job = self.job
        if not active or job is None or job.execution.finished:
            return []
        job.execution.abort("emergency stop: every agent is frozen")
        return self._conclude(job, now)

    def tick(self, now: float) -> list[Effect]:
        """Periodically: deadlines pass, silent agents are noticed, the status goes out."""
        effects = self._advance(now)
        reported = any(isinstance(effect, Report) for effect in effects)
        return effects if reported else [*effects, self.report(now)]

    # -- queries --------------------------------------------------------------------------------
    def is_current(self, number: int) -> bool:
        """Whether instruction `number` is still the one to plan (any thread may ask)."""
        job = self.job
        return job is not None and job.number == number

    def positions(self) -> dict[str, float]:
        """Where each agent last said its joint is (rad or m): where a plan starts from. Safe
        to call from the planning thread."""
        return {name: heard.status.position for name, heard in list(self.reports.items())}

    def report(self, now: float, job: Job | None = None) -> Report:
        """The planner's status, about `job` (default: the current instruction)."""
        ready, readiness = self._readiness(now)
        level, message = (Level.OK if ready else Level.WARN), readiness
        job = job or self.job
        if job is None:
            return Report(PlannerStatus(level, message, ready, readiness, self.backend, 0))
        execution = job.execution
        if execution.finished and execution.state not in SUCCESSFUL_EXECUTION_STATES:
            level = Level.ERROR
        status = PlannerStatus(
            level=level,
            message=job.summary,
            ready=ready,
            readiness=readiness,
            backend=self.backend,
            instruction_count=self.instruction_count,
            instruction_id=job.number,
            state=execution.state if execution.finished else ExecutionState.RUNNING,
            instruction=job.text,
            reason=execution.reason,
            step=execution.current_step,
            received_at=job.received_at,
            first_step_at=job.first_step_at,
            finished_at=job.finished_at,
            plan=job.plan,
        )
        return Report(status)

    # -- internals ------------------------------------------------------------------------------
    def _current(self, number: int) -> Job | None:
        return self.job if self.is_current(number) else None

    def _advance(self, now: float) -> list[Effect]:
        job = self.job
        if job is None:
            return []
        effects: list[Effect] = []
        while (step := job.execution.update(self.reports, now)) is not None:
            effects += [SendGoal(goal.agent, goal.goal) for goal in step]
            job.execution.dispatched(step, self.reports, now)
        return [*effects, *self._conclude(job, now)]

    def _conclude(self, job: Job, now: float) -> list[Effect]:
        """Once, when `job`'s execution has finished: stamp it and tell the agents its running
        step left moving to hold."""
        if job.finished_at is not None or not job.execution.finished:
            return []
        job.finished_at = now
        holds: list[Effect] = [SendGoal(agent, HOLD_GOAL) for agent in job.execution.hold]
        summary = f"instruction {job.number}: {job.summary}"
        return [*holds, Report(self.report(now, job).status, log=summary)]

    def _stop_all(self, job: Job, now: float) -> list[Effect]:
        """Hold every agent now (a second hold is harmless), then say so on /plan."""
        holds: list[Effect] = [SendGoal(agent, HOLD_GOAL) for agent in self.robot.agent_names]
        job.first_step_at = now
        job.plan = Plan(job.text, STOP_PLANNER, stop=True)
        job.execution.stop("stop requested: every agent holds")
        return [*holds, AnnouncePlan(job.plan), *self._conclude(job, now)]

    def _new_execution(self) -> PlanExecution:
        return PlanExecution(self.step_timeout_margin_s, self.agent_timeout_s)

    def _readiness(self, now: float) -> tuple[bool, str]:
        silent = [
            name
            for name in self.robot.agent_names
            if name not in self.reports
            or now - self.reports[name].received_at > self.agent_timeout_s
            or not math.isfinite(self.reports[name].status.position)  # no joint state yet
        ]
        if silent:
            return False, f"waiting for agents: {', '.join(silent)}"
        return True, "ready"
