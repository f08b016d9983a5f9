"""planner: /instruction -> plan -> safety shield -> <agent>/goal, step by step.

Planning runs on a worker thread (a language model takes hundreds of ms) and streams validated
steps back to the executor thread as tasks, so step 1 is dispatched while later steps
are still being decoded. The executor thread owns all ROS I/O and the plan execution state:
the next step goes out when every agent of the current one reports done on /diagnostics.
A plan that fails, or is stopped or replaced, tells the agents its running step left moving to
hold. 'stop', 'halt' and 'freeze' never wait for the worker: every agent is told to hold at once.
"""

from __future__ import annotations

import math
import queue
import threading
import traceback
from dataclasses import dataclass, replace
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from std_msgs.msg import String

from ..core.errors import LlmMasError
from ..core.language.quantities import format_number
from ..core.planning.execution import HOLD_GOAL, ExecutionState, PlanExecution
from ..core.planning.llm.models import threads_beside_control_loops
from ..core.planning.pipeline import STOP_PLANNER, is_stop
from ..core.planning.plan import Plan, Step
from ..core.planning.settings import PlannerSettings, build_pipeline, planner_settings_from_params
from ..core.planning.status import AgentReport, KeyValues, agent_report, clip_text, plan_values
from ..ros import qos, topics
from ..ros.messages import diagnostic_array, diagnostic_status, values_of
from ..ros.params import declare_all, declare_robot
from ..ros.runtime import forward_python_logging, monotonic, run_nodes

STATUS_PERIOD_S = 0.5


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


class PlannerNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("planner", **node_options)
        forward_python_logging(self)  # model loading progress shows in the node's log
        self.robot = declare_robot(self)
        defaults = PlannerSettings()
        self.settings = planner_settings_from_params(
            declare_all(
                self,
                [
                    (name, text, getattr(defaults, name))
                    for name, text in PlannerSettings.descriptions().items()
                ],
            )
        )
        if self.settings.threads == 0:  # automatic: the control loops keep a CPU
            self.settings = replace(self.settings, threads=threads_beside_control_loops())
        self.get_logger().info(f"loading planner backend {self.settings.backend!r}")
        self.pipeline = build_pipeline(self.robot, self.settings)
        self.goal_publishers = {
            agent.name: self.create_publisher(
                String, agent.goal_topic, qos.GOALS, qos_overriding_options=qos.overridable()
            )
            for agent in self.robot.agents
        }
        self.plan_publisher = self.create_publisher(String, topics.PLAN, qos.PLAN)
        self.diagnostics = self.create_publisher(
            DiagnosticArray, topics.DIAGNOSTICS, qos.DIAGNOSTICS
        )
        self.create_subscription(
            String,
            topics.INSTRUCTION,
            self._on_instruction,
            qos.INSTRUCTIONS,
            qos_overriding_options=qos.overridable(),
        )
        self.create_subscription(
            DiagnosticArray, topics.DIAGNOSTICS, self._on_diagnostics, qos.DIAGNOSTICS
        )
        self.reports: dict[str, AgentReport] = {}
        self.job: Job | None = None
        self.instruction_count = 0
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.work: queue.SimpleQueue = queue.SimpleQueue()
        self.worker = threading.Thread(target=self._plan_forever, name="planner", daemon=True)
        self.worker.start()
        self.create_timer(STATUS_PERIOD_S, self._on_timer)
        self.get_logger().info(f"planner ready ({self.pipeline.name}); waiting for instructions")

    # -- inputs ---------------------------------------------------------------------------------
    def _on_instruction(self, message: String) -> None:
        now = monotonic()
        self.instruction_count += 1
        job = Job(self.instruction_count, message.data, now, self._new_execution())
        previous, self.job = self.job, job
        held: tuple[str, ...] = ()
        if previous is not None:
            previous.execution.stop(f"replaced by instruction {job.number}")
            self._conclude(previous, now)  # its holds go out before any goal of the new plan
            # Those holds (sent now, or moments ago when it failed) may reach the agents'
            # statuses after the new plan's goals are sent: they are not foreign goals.
            held = previous.execution.hold
        if is_stop(message.data):
            self._stop_all(job, now)
        else:
            job.execution.held_before(held)
            self.work.put(job)
        self._publish_status()

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        now = monotonic()
        updated = False
        for status in message.status:
            if not self.robot.has_agent(status.name):
                continue
            report = agent_report(status.name, values_of(status), now)
            if report is not None:
                self.reports[status.name] = report
                updated = True
        if updated:
            self._advance(now)

    def _on_timer(self) -> None:
        self._advance(monotonic())
        self._publish_status()

    # -- worker thread: planning only, no ROS calls except the guard condition ------------------
    def _plan_forever(self) -> None:
        while True:
            job = self.work.get()
            if job is not self.job:
                continue  # superseded before we got to it
            try:
                plan = self.pipeline.plan(
                    job.text,
                    self._positions(),
                    on_step=lambda step, job=job: self._post(job, step),
                )
                self._post(job, plan)
            except LlmMasError as error:
                self._post(job, error)
            except Exception as error:  # a planner bug must not take the node down
                self.get_logger().error(f"planning failed: {traceback.format_exc()}")
                self._post(job, LlmMasError(f"internal planner error: {error!r}"))

    def _positions(self) -> dict[str, float]:
        """Where each agent last said its joint is: where the plan starts from."""
        return {name: report.position for name, report in list(self.reports.items())}

    def _post(self, job: Job, item: Step | Plan | LlmMasError) -> None:
        self.events.put((job, item))
        # Wake the executor thread (EventsExecutor has no guard conditions; create_task is
        # its thread-safe way in).
        self.executor.create_task(self._drain_events_logged)

    def _drain_events_logged(self) -> None:
        try:
            self._drain_events()
        except Exception:  # a task's exception would otherwise vanish into its future
            self.get_logger().error(f"dispatch failed: {traceback.format_exc()}")

    # -- executor thread: execution ---------------------------------------------------------------
    def _drain_events(self) -> None:
        now = monotonic()
        while not self.events.empty():
            job, item = self.events.get()
            if job is not self.job:
                continue
            if isinstance(item, Plan):
                self._planned(job, item, now)
            elif isinstance(item, LlmMasError):
                job.execution.fail(f"cannot plan: {item}")
            else:
                job.first_step_at = job.first_step_at or now
                job.execution.add_step(item)
        self._advance(now)

    def _planned(self, job: Job, plan: Plan, now: float) -> None:
        self._announce(job, plan)
        first = plan.rejected[0] if plan.rejected else None
        # The steps before a rejected goal run; then the plan fails with the rejection.
        job.execution.end_planning(f"rejected: {first.agent}: {first.reason}" if first else "")

    def _announce(self, job: Job, plan: Plan) -> None:
        job.plan = plan
        self.plan_publisher.publish(String(data=plan.describe()))
        self.get_logger().info(plan.describe())

    def _advance(self, now: float) -> None:
        job = self.job
        if job is None:
            return
        while (step := job.execution.update(self.reports, now)) is not None:
            for goal in step:
                self.goal_publishers[goal.agent].publish(String(data=goal.goal))
            job.execution.dispatched(step, self.reports, now)
        if self._conclude(job, now):
            self._publish_status()

    def _conclude(self, job: Job, now: float) -> bool:
        """Once, when `job`'s execution has finished: stamp it and tell the agents its running
        step left moving to hold. True if it finished just now."""
        if job.finished_at is not None or not job.execution.finished:
            return False
        job.finished_at = now
        for agent in job.execution.hold:
            self.goal_publishers[agent].publish(String(data=HOLD_GOAL))
        self.get_logger().info(f"instruction {job.number}: {self._summary(job)}")
        return True

    def _stop_all(self, job: Job, now: float) -> None:
        """Hold every agent now (a second hold is harmless), then say so on /plan."""
        for publisher in self.goal_publishers.values():
            publisher.publish(String(data=HOLD_GOAL))
        job.first_step_at = now
        job.execution.stop("stop requested: every agent holds")
        self._conclude(job, now)
        self._announce(job, Plan(job.text, STOP_PLANNER, stop=True))

    def _new_execution(self) -> PlanExecution:
        return PlanExecution(self.settings.step_timeout_margin_s, self.settings.agent_timeout_s)

    # -- status ---------------------------------------------------------------------------------
    def _ready(self, now: float) -> tuple[bool, str]:
        silent = [
            name
            for name in self.robot.agent_names
            if name not in self.reports
            or now - self.reports[name].received_at > self.settings.agent_timeout_s
            or not math.isfinite(self.reports[name].position)  # no joint state yet
        ]
        if silent:
            return False, f"waiting for agents: {', '.join(silent)}"
        return True, "ready"

    @staticmethod
    def _summary(job: Job) -> str:
        execution = job.execution
        if execution.state is ExecutionState.RUNNING or not execution.finished:
            return f"running step {max(execution.current_step, 1)}"
        return execution.state.value + (f": {execution.reason}" if execution.reason else "")

    def _publish_status(self) -> None:
        now = monotonic()
        ready, readiness = self._ready(now)
        values: KeyValues = [
            ("ready", str(ready).lower()),
            ("readiness", readiness),
            ("backend", self.pipeline.name),
            ("instruction_count", str(self.instruction_count)),
        ]
        level, message = (0 if ready else 1), readiness
        job = self.job
        if job is not None:
            state = job.execution.state.value if job.execution.finished else "running"
            message = self._summary(job)
            if job.execution.state is ExecutionState.FAILED:
                level = 2
            values += [
                ("state", state),
                ("instruction", clip_text(job.text)),
                ("reason", job.execution.reason),
                ("step", str(job.execution.current_step)),
                ("received_at", _stamp(job.received_at)),
                ("first_step_at", _stamp(job.first_step_at)),
                ("finished_at", _stamp(job.finished_at)),
            ]
            if job.plan is not None:
                values += plan_values(job.plan)
        status = diagnostic_status(self.get_name(), level, message, values)
        self.diagnostics.publish(diagnostic_array(self.get_clock().now(), [status]))


def _stamp(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else format_number(value, 6)


def main(args: list[str] | None = None) -> int:
    return run_nodes(lambda: [PlannerNode()], args)


if __name__ == "__main__":
    raise SystemExit(main())
