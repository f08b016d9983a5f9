"""The planner's decisions without ROS: events in, effects out.

The planner node feeds a `Dispatcher` what happens (an instruction, agent statuses, a planned
step or plan from its planning thread, a stop, an e-stop, a clock tick) and carries out the
effects it returns (send a goal, announce a plan, plan an instruction, publish the status), in
order. One instruction runs at a time: a new one replaces the running one, whose agents still
moving are told to hold before any goal of the new plan goes out. A stop ('stop', 'hold', ...)
never waits for planning: every agent is told to hold at once. A question ("where is the
elbow?", told by the pipeline's `is_question`) is answered, not executed: its plan has an
answer and no steps, and it ends `done` at once, sending no goal and holding no agent. It does
not cut short what runs: one that arrives while another instruction runs replaces it only if
its plan moves something after all, and then just before its first goal goes out. (Under
Arrival.QUEUE a question waits its turn like any instruction.) Times in s on a monotonic clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from ..control.agent import AgentStatus, Level
from ..robot.model import RobotModel
from .answers import is_question
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
    queued: bool = False  # waiting for the instructions before it (Arrival.QUEUE)
    agents: set[str] = field(default_factory=set)  # agents it has sent goals to
    # A question that came while others ran (Arrival.PREEMPT): an answer must not stop them.
    # The pipeline answers a question with no steps; should a step come all the same, it
    # replaces them then, before its first goal goes out.
    replaces_later: bool = False

    @property
    def pending_state(self) -> ExecutionState:
        return ExecutionState.QUEUED if self.queued else ExecutionState.RUNNING

    @property
    def summary(self) -> str:
        execution = self.execution
        if not execution.finished:
            if self.queued:
                return "queued"
            return (
                f"running step {execution.current_step}" if execution.current_step else "planning"
            )
        state, reason = execution.state.value, execution.reason
        if not reason or reason.startswith(f"{state}:"):  # 'rejected: elbow: ...' says it
            return reason or state
        return f"{state}: {reason}"


class Arrival(StrEnum):
    """What an instruction that arrives while another runs does to it."""

    PREEMPT = "preempt"  # replaces it: its agents still moving hold, then the new plan runs
    QUEUE = "queue"  # waits until it ends (a bounded queue: a full one rejects)
    MERGE = "merge"  # runs beside it when their agents are disjoint, else replaces it


class Dispatcher:
    """What the planner does, as a pure state machine over its events. `active` are the
    instructions being planned or executed (one, except under Arrival.MERGE), `waiting` those
    queued (Arrival.QUEUE), `job` the latest received."""

    def __init__(
        self,
        robot: RobotModel,
        backend: str,
        step_timeout_margin_s: float = 5.0,
        agent_timeout_s: float = 2.0,
        arrival: Arrival = Arrival.PREEMPT,
        queue_size: int = 4,
    ) -> None:
        self.robot = robot
        self.backend = backend
        self.step_timeout_margin_s = step_timeout_margin_s
        self.agent_timeout_s = agent_timeout_s
        self.arrival = Arrival(arrival)
        self.queue_size = queue_size
        self.reports: dict[str, AgentReport] = {}
        self.job: Job | None = None
        self.active: list[Job] = []
        self.waiting: deque[Job] = deque()
        # A stop held every agent; until a later plan's goals go out, those holds may still
        # reach the agents' statuses after that plan's goals are sent: not foreign goals.
        self._stop_holds_unseen = False
        self.instruction_count = 0

    # -- events ---------------------------------------------------------------------------------
    def instruction(self, text: str, now: float) -> list[Effect]:
        self.instruction_count += 1
        job = Job(self.instruction_count, text, now, self._new_execution())
        self.job = job
        if is_stop(text):
            ended = self._preempt([*self.active, *self.waiting], job, "stopped", now)
            return [*ended, *self._stop_all(job, now), self.report(now)]
        if self.active and self.arrival is Arrival.QUEUE:
            return [*self._enqueue(job, now), self.report(now)]
        replaced = self.arrival is Arrival.PREEMPT
        if replaced and self.active and is_question(text):
            job.replaces_later, replaced = True, False
        ended = self._preempt(self.active, job, "replaced", now) if replaced else []
        return [*ended, *self._start(job), self.report(now)]

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
        effects: list[Effect] = []
        if job.replaces_later:  # a question that moves after all: now it replaces what runs
            job.replaces_later = False
            others = [other for other in self.active if other is not job]
            effects = self._preempt(others, job, "replaced", now)
        elif self.arrival is Arrival.MERGE:
            effects = self._make_room(job, step, now)
        job.first_step_at = job.first_step_at or now
        job.execution.add_step(step)
        return [*effects, *self._advance(now)]

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
        """An e-stop freezes the agents; what was running or waiting has failed."""
        if not active:
            return []
        effects: list[Effect] = []
        for job in [*self.active, *self.waiting]:
            job.execution.abort("emergency stop: every agent is frozen")
            effects += self._conclude(job, now)
        self.active, self.waiting = [], deque()
        return effects

    def tick(self, now: float) -> list[Effect]:
        """Periodically: deadlines pass, silent agents are noticed, the status goes out."""
        effects = self._advance(now)
        reported = any(isinstance(effect, Report) for effect in effects)
        return effects if reported else [*effects, self.report(now)]

    # -- queries --------------------------------------------------------------------------------
    def is_current(self, number: int) -> bool:
        """Whether instruction `number` is still to be planned (any thread may ask)."""
        return any(job.number == number for job in list(self.active))

    def positions(self) -> dict[str, float]:
        """Where each agent last said its joint is (rad or m): where a plan starts from. Safe
        to call from the planning thread."""
        return {name: heard.status.position for name, heard in list(self.reports.items())}

    def report(self, now: float, job: Job | None = None) -> Report:
        """The planner's status, about `job` (default: the latest instruction)."""
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
            state=execution.state if execution.finished else job.pending_state,
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
        return next((job for job in self.active if job.number == number), None)

    def _start(self, job: Job, held: Iterable[str] | None = None) -> list[Effect]:
        """Plan `job` now; `held`: agents just told to hold before it (see _preempt)."""
        job.queued = False
        if self._stop_holds_unseen:
            held = {*(held or ()), *self.robot.agent_names}
        if held is not None:
            job.execution.held_before(held)
        self.active.append(job)
        return [StartPlanning(job.number, job.text)]

    def _enqueue(self, job: Job, now: float) -> list[Effect]:
        if len(self.waiting) >= self.queue_size:
            job.execution.reject(
                f"{len(self.waiting)} instructions already wait (queue_size {self.queue_size})"
            )
            return self._conclude(job, now)
        job.queued = True
        self.waiting.append(job)
        return []

    def _preempt(self, jobs: Iterable[Job], by: Job, how: str, now: float) -> list[Effect]:
        """End `jobs` for `by`; their holds go out before any goal of `by`. Those holds (sent
        now, or moments ago when one failed) may reach the agents' statuses after the new
        plan's goals are sent: `by` knows they are not foreign goals."""
        effects: list[Effect] = []
        held: set[str] = set()
        for job in list(jobs):
            job.execution.preempt(f"{how} by instruction {by.number} ({clip_text(by.text)!r})")
            effects += self._conclude(job, now)
            held |= set(job.execution.hold)
        by.execution.held_before(held)
        self.active = [job for job in self.active if not job.execution.finished]
        self.waiting = deque(job for job in self.waiting if not job.execution.finished)
        return effects

    def _make_room(self, job: Job, step: Step, now: float) -> list[Effect]:
        """Under MERGE: a step whose agents another running instruction uses replaces it."""
        agents = {goal.agent for goal in step}
        others = [other for other in self.active if other is not job and other.agents & agents]
        return self._preempt(others, job, "replaced", now)

    def _advance(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        for job in list(self.active):
            while (step := job.execution.update(self.reports, now)) is not None:
                effects += [SendGoal(goal.agent, goal.goal) for goal in step]
                job.execution.dispatched(step, self.reports, now)
                self._stop_holds_unseen = False
                job.agents |= {goal.agent for goal in step}
            if job.execution.finished:
                effects += self._conclude(job, now)
                self.active.remove(job)
                if self.waiting and not self.active:
                    effects += self._start(self.waiting.popleft(), job.execution.hold)
        return effects

    def _conclude(self, job: Job, now: float) -> list[Effect]:
        """Once, when `job`'s execution has finished: stamp it, tell the agents its running
        step left moving to hold, and report its outcome (about it, by its id)."""
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
        self._stop_holds_unseen = True
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
        # An agent whose commands reach no controller yet would move nothing.
        unready = [
            f"{name} ({status.readiness})"
            for name in self.robot.agent_names
            if not (status := self.reports[name].status).ready
        ]
        if unready:
            return False, f"waiting for agents: {', '.join(unready)}"
        return True, "ready"
