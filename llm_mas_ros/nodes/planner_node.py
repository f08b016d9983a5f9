"""planner: /instruction -> plan -> safety shield -> <agent>/goal, step by step.

Wiring only: the decisions are the core's `Dispatcher` (events in, effects out). Planning runs
on a worker thread (a language model takes hundreds of ms) and streams validated steps back to
the executor thread, which owns all ROS I/O and the dispatcher, so step 1 is dispatched while
later steps are still being decoded.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from std_msgs.msg import Bool, String

from ..core.errors import LlmMasError
from ..core.planning import dispatcher as D
from ..core.planning.llm.models import threads_beside_control_loops
from ..core.planning.planner_settings import PlannerSettings, build_dispatcher, build_pipeline
from ..core.planning.status import PLANNER_NODE
from ..ros import qos, topics
from ..ros.messages import agent_statuses, planner_diagnostic
from ..ros.params import declare_planner, declare_robot
from ..ros.runtime import control_clock, demote_thread, forward_python_logging, run_nodes

STATUS_PERIOD_S = 0.5


class PlannerNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__(PLANNER_NODE, **node_options)
        forward_python_logging(self)  # model loading progress shows in the node's log
        robot = declare_robot(self)
        self.decode_nice = robot.control.decode_nice
        settings = self._declare_settings()
        self.now = control_clock(self)
        self.get_logger().info(f"loading planner backend {settings.backend!r}")
        self.pipeline = build_pipeline(robot, settings)
        self.dispatcher = build_dispatcher(robot, self.pipeline.name, settings)
        self.goal_publishers = {
            agent.name: self.create_publisher(
                String, agent.goal_topic, qos.GOALS, qos_overriding_options=qos.overridable()
            )
            for agent in robot.agents
        }
        overridable = qos.overridable
        self.plan_publisher = self.create_publisher(
            String, topics.PLAN, qos.PLAN, qos_overriding_options=overridable()
        )
        self.diagnostics = self.create_publisher(
            DiagnosticArray,
            topics.DIAGNOSTICS,
            qos.DIAGNOSTICS,
            qos_overriding_options=overridable(),
        )
        self.create_subscription(
            String,
            topics.INSTRUCTION,
            lambda m: self._apply(self.dispatcher.instruction(m.data, self.now())),
            qos.INSTRUCTIONS,
            qos_overriding_options=qos.overridable(),
        )
        self.create_subscription(
            DiagnosticArray,
            topics.DIAGNOSTICS,
            lambda m: self._apply(self.dispatcher.agent_statuses(agent_statuses(m), self.now())),
            qos.DIAGNOSTICS,
            qos_overriding_options=overridable(),
        )
        on_estop = self._on_estop
        qos.subscribe_latched(self, Bool, topics.ESTOP, qos.ESTOP, on_estop, on_estop)
        self.create_timer(STATUS_PERIOD_S, lambda: self._apply(self.dispatcher.tick(self.now())))
        self.work: queue.SimpleQueue[D.StartPlanning] = queue.SimpleQueue()
        self.events: queue.SimpleQueue[Callable[[float], list[D.Effect]]] = queue.SimpleQueue()
        threading.Thread(target=self._plan_forever, name="planner", daemon=True).start()
        self.get_logger().info(f"planner ready ({self.pipeline.name}); waiting for instructions")

    def _declare_settings(self) -> PlannerSettings:
        settings = declare_planner(self)
        if settings.threads == 0:  # automatic: the control loops keep a CPU
            settings = replace(settings, threads=threads_beside_control_loops())
        return settings

    def _on_estop(self, message: Bool) -> None:
        self._apply(self.dispatcher.emergency_stop(bool(message.data), self.now()))

    # -- effects: the only place the planner publishes --------------------------------------------
    def _apply(self, effects: Iterable[D.Effect]) -> None:
        for effect in effects:
            if isinstance(effect, D.SendGoal):
                self.goal_publishers[effect.agent].publish(String(data=effect.goal))
            elif isinstance(effect, D.AnnouncePlan):
                self.plan_publisher.publish(String(data=effect.plan.describe()))
                self.get_logger().info(effect.plan.describe())
            elif isinstance(effect, D.StartPlanning):
                self.work.put(effect)
            else:
                if effect.log:
                    self.get_logger().info(effect.log)
                self.diagnostics.publish(planner_diagnostic(self.get_clock().now(), effect.status))

    # -- worker thread: planning only; results go back through the executor ---------------------
    def _plan_forever(self) -> None:
        demote_thread(self, self.decode_nice)  # the model's threads inherit it
        while True:
            job = self.work.get()
            if not self.dispatcher.is_current(job.number):
                continue  # superseded before we got to it
            self._post(self._planning_result(job))

    def _planning_result(self, job: D.StartPlanning) -> Callable[[float], list[D.Effect]]:
        number, dispatcher = job.number, self.dispatcher
        try:
            plan = self.pipeline.plan(
                job.text,
                dispatcher.positions(),
                on_step=lambda step: self._post(lambda now: dispatcher.planned(number, step, now)),
            )
            return lambda now: dispatcher.finished_planning(number, plan, now)
        except LlmMasError as error:
            reason = str(error)
        except Exception as error:  # a planner bug must not take the node down
            self.get_logger().error(f"planning failed: {traceback.format_exc()}")
            reason = f"internal planner error: {error!r}"
        return lambda now: dispatcher.planning_failed(number, reason, now)

    def _post(self, event: Callable[[float], list[D.Effect]]) -> None:
        """Queue `event` (in order) for the executor thread and wake it (EventsExecutor has no
        guard conditions; create_task is its thread-safe way in)."""
        self.events.put(event)
        self.executor.create_task(self._drain_events)

    def _drain_events(self) -> None:
        try:
            while not self.events.empty():
                self._apply(self.events.get()(self.now()))
        except Exception:  # a task's exception would otherwise vanish into its future
            self.get_logger().error(f"dispatch failed: {traceback.format_exc()}")


def main(args: list[str] | None = None) -> int:
    return run_nodes(lambda: [PlannerNode()], args)


if __name__ == "__main__":
    raise SystemExit(main())
