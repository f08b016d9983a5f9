"""A client of a running graph: what `llm-mas-ros run/say/up` use instead of `ros2 topic`.

It sends an instruction on /instruction and follows the planner's and agents' statuses on
/diagnostics until the planner reports the instruction finished. Every wait is on a message or a
match count with a timeout, never on a sleep.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from ..core.control.agent import Level
from ..core.errors import LlmMasError
from ..core.planning.execution import ExecutionState
from ..core.planning.plan import Plan
from ..core.planning.status import PLANNER_NODE, PlannerStatus, clip_text
from ..core.robot.model import RobotModel
from . import qos, topics
from .graph import spin_until
from .messages import agent_statuses, planner_status
from .runtime import close_executor, make_executor, monotonic

STOP_INSTRUCTION = "stop"  # the planner's stop fast path
KEPT_INSTRUCTIONS = 64  # statuses of this many recent instructions are kept to follow ours


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while following an instruction, which was then stopped; `positions` are where
    the joints stopped (rad or m; NaN for a joint not heard of)."""

    def __init__(self, positions: dict[str, float]) -> None:
        super().__init__()
        self.positions = positions


class GraphError(LlmMasError):
    """The graph is not there, not ready, or did not finish in time."""


@dataclass
class Outcome:
    """What happened to one instruction. Times are ms after it was sent."""

    instruction: str
    planner: PlannerStatus
    final_positions: dict[str, float]
    timings_ms: dict[str, float | None]

    @property
    def ok(self) -> bool:
        return self.planner.ok

    @property
    def state(self) -> str:
        return self.planner.state.value if self.planner.state else ""

    @property
    def reason(self) -> str:
        return self.planner.reason

    def to_json(self) -> dict[str, Any]:
        plan = self.planner.plan or Plan(self.instruction, "")
        result = replace(plan, instruction=self.instruction).to_json()
        result.update(
            ok=self.ok,
            state=self.state,
            reason=self.reason,
            # null, not NaN (which is no JSON), for a joint no state was heard of
            final_positions={
                k: round(v, 5) if math.isfinite(v) else None
                for k, v in self.final_positions.items()
            },
            timings_ms=self.timings_ms,
        )
        return result


@dataclass
class _Seen:
    planner: PlannerStatus | None = None
    by_id: dict[int, PlannerStatus] = field(default_factory=dict)  # recent instructions
    positions: dict[str, float] = field(default_factory=dict)
    command_stamps: set[float] = field(default_factory=set)  # agents' first_command_at values


class GraphClient:
    """Owns a small node on its own executor; call `close()` when done."""

    def __init__(self, robot: RobotModel, node_name: str = "llm_mas_cli") -> None:
        self.robot = robot
        self.node = Node(node_name)
        self.executor = make_executor()
        self.executor.add_node(self.node)
        self.seen = _Seen()
        self.instructions = self.node.create_publisher(
            String, topics.INSTRUCTION, qos.INSTRUCTIONS
        )
        self.node.create_subscription(
            DiagnosticArray, topics.DIAGNOSTICS, self._on_diagnostics, qos.DIAGNOSTICS
        )
        self.node.create_subscription(
            JointState, topics.JOINT_STATES, self._on_joint_state, qos.JOINT_STATES
        )

    def close(self) -> None:
        close_executor(self.executor, [self.node])

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        planner = planner_status(message)
        if planner is not None:
            self.seen.planner = planner
            if planner.instruction_id:
                self.seen.by_id[planner.instruction_id] = planner
                for old in sorted(self.seen.by_id)[:-KEPT_INSTRUCTIONS]:
                    del self.seen.by_id[old]
        for status in agent_statuses(message):
            if self.robot.has_agent(status.name) and status.first_command_at is not None:
                self.seen.command_stamps.add(status.first_command_at)

    @property
    def _planner_message(self) -> str:
        return self.seen.planner.message if self.seen.planner else ""

    def _on_joint_state(self, message: JointState) -> None:
        self.seen.positions.update(zip(message.name, message.position, strict=False))

    def wait_for_planner(self, timeout_s: float) -> None:
        """A GraphError within `timeout_s` when no planner node is on this domain (instead of
        waiting out the whole ready timeout in silence)."""
        if not spin_until(self.executor, self._planner_on_domain, timeout_s):
            domain = os.environ.get("ROS_DOMAIN_ID") or "0"
            raise GraphError(
                f"no planner on ROS_DOMAIN_ID={domain} within {timeout_s:g} s: start the system "
                "with `llm-mas-ros up` (in a shell with the same ROS_DOMAIN_ID)"
            )

    def _planner_on_domain(self) -> bool:
        return self.seen.planner is not None or PLANNER_NODE in self.node.get_node_names()

    def wait_ready(self, timeout_s: float, alive: Callable[[], str | None] = lambda: None) -> None:
        """Wait until the planner says it is ready and hears /instruction.
        `alive()` returns a reason when something it depends on has died."""
        death: list[str] = []

        def ready() -> bool:
            reason = alive()
            if reason:
                death.append(reason)
                return True
            return (
                self.seen.planner is not None
                and self.seen.planner.ready
                and self.instructions.get_subscription_count() > 0
                and self._heard_every_joint()  # or final positions could be unknown
            )

        if not spin_until(self.executor, ready, timeout_s):
            detail = self._planner_message or "no planner status on /diagnostics"
            if not self._heard_every_joint():
                detail += f"; no complete {topics.JOINT_STATES} heard"
            raise GraphError(f"the system did not become ready within {timeout_s:g} s ({detail})")
        if death:
            raise GraphError(death[0])

    def execute(
        self,
        text: str,
        timeout_s: float,
        on_progress: Callable[[str], None] | None = None,
        alive: Callable[[], str | None] = lambda: None,
        stop_on_timeout: bool = True,
    ) -> Outcome:
        """Send `text` and follow it until the planner reports its outcome: its own, told by
        its instruction id, even when a later instruction replaced it. After `timeout_s` the
        instruction is stopped (`stop_on_timeout`) and the outcome is TIMED_OUT, or a
        GraphError says it still runs. A Ctrl-C meanwhile stops it, and the Interrupted that
        propagates carries where the joints stopped."""
        baseline = self._instruction_count()
        sent_at = monotonic()
        self.instructions.publish(String(data=text))
        death: list[str] = []
        last_message = [""]

        def finished() -> bool:
            if reason := alive():
                death.append(reason)
                return True
            mine = self._mine(text, baseline)
            if mine and on_progress and mine.message != last_message[0]:
                last_message[0] = mine.message
                on_progress(mine.message)
            return mine is not None and mine.finished

        try:
            completed = spin_until(self.executor, finished, timeout_s)
        except KeyboardInterrupt:
            self._stop_unfinished(text, baseline)
            raise Interrupted(self.fresh_positions()) from None
        if death:
            raise GraphError(death[0])
        if not completed:
            return self._timed_out(text, baseline, timeout_s, sent_at, stop_on_timeout)
        mine = self._mine(text, baseline)
        assert mine is not None  # finished() saw it
        return Outcome(text, mine, self.fresh_positions(), self._timings(mine, sent_at))

    def _timed_out(
        self, text: str, baseline: int, timeout_s: float, sent_at: float, stop: bool
    ) -> Outcome:
        mine = self._mine(text, baseline)
        where = f"planner: {mine.message}" if mine else "the planner never reported it"
        if not stop:
            raise GraphError(f"no result within {timeout_s:g} s; it may still run ({where})")
        stopped = self._stop_unfinished(text, baseline)
        reason = f"no result within {timeout_s:g} s ({where}); " + (
            "stopped it: every agent holds" if stopped else "sent a stop, unconfirmed"
        )
        planner = mine or PlannerStatus(Level.ERROR, reason, True, "", "", baseline)
        planner = replace(planner, state=ExecutionState.TIMED_OUT, reason=reason)
        return Outcome(text, planner, self.fresh_positions(), self._timings(planner, sent_at))

    def _mine(self, text: str, baseline: int) -> PlannerStatus | None:
        """The latest status of the instruction `text` sent after the planner had received
        `baseline` instructions: the first one numbered after it with that text."""
        candidates = sorted(
            number
            for number, status in self.seen.by_id.items()
            if number > baseline and status.instruction == clip_text(text)
        )
        return self.seen.by_id[candidates[0]] if candidates else None

    def _stop_unfinished(self, text: str, baseline: int, timeout_s: float = 2.0) -> bool:
        """Stop the instruction `text` (sent after `baseline`) unless it has finished, as
        Ctrl-C of `ros2 action send_goal` cancels its goal: the stop fast path holds every
        agent. True once the planner confirms, within `timeout_s`."""
        mine = self._mine(text, baseline)
        if mine is not None and mine.finished:
            return True
        count = max(self._instruction_count(), baseline + 1)
        self.instructions.publish(String(data=STOP_INSTRUCTION))
        return spin_until(
            self.executor,
            lambda: (stop := self._mine(STOP_INSTRUCTION, count)) is not None and stop.finished,
            timeout_s,
        )

    def _instruction_count(self) -> int:
        """Instructions the planner has received (it numbers them from 1)."""
        return self.seen.planner.instruction_count if self.seen.planner else 0

    def _heard_every_joint(self) -> bool:
        return all(joint in self.seen.positions for joint in self.robot.joint_names)

    def fresh_positions(self, timeout_s: float = 1.0) -> dict[str, float]:
        """Joint -> position (rad or m) from a joint state received after this call."""
        self.seen.positions.clear()
        spin_until(
            self.executor,
            lambda: len(self.seen.positions) >= len(self.robot.joint_names),
            timeout_s,
        )
        seen = self.seen.positions
        return {joint: seen.get(joint, math.nan) for joint in self.robot.joint_names}

    def _timings(self, planner: PlannerStatus, sent_at: float) -> dict[str, float | None]:
        def after(stamp: float | None) -> float | None:
            return None if stamp is None else round((stamp - sent_at) * 1000.0, 3)

        commands = [stamp for stamp in self.seen.command_stamps if stamp >= sent_at]
        return {
            "first_step": after(planner.first_step_at),
            "first_command": after(min(commands) if commands else None),
            "done": after(planner.finished_at),
        }
