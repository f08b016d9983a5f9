"""The one codec of /diagnostics: typed statuses to DiagnosticStatus key/values and back.

/diagnostics carries diagnostic_msgs/DiagnosticStatus, whose `values` are string key/values:
tools (rqt_runtime_monitor, Foxglove) show them as they are. Agents write an `AgentStatus`, the
planner a `PlannerStatus` (with the plan it runs); the planner, the CLI and the tests read them
back here, so no key is spelt anywhere else and writer and reader cannot drift apart.
Times are monotonic-clock seconds; positions rad or m; latencies ms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..control.agent import AgentState, AgentStatus, Level
from ..control.latency import HopLatency, LatencyReport
from ..language.quantities import format_number
from .execution import (
    FINISHED_EXECUTION_STATES,
    SUCCESSFUL_EXECUTION_STATES,
    ExecutionState,
)
from .plan import Goal, Plan, Rejection

KeyValues = list[tuple[str, str]]
CLIP_CHARS = 200  # longest untrusted text a status repeats (it is re-sent several times a s)
# A question's answer is the planner's own text (joints and poses listed from the config), not
# an echo: several hundred characters must pass whole, yet a status stays bounded.
ANSWER_CHARS = 2000
PLANNER_NODE = "planner"  # the planner's node name: the `name` of its DiagnosticStatus


class Key(StrEnum):
    """Every key of the statuses on /diagnostics."""

    STATE = "state"
    GOAL = "goal"
    GOAL_COUNT = "goal_count"
    GOAL_DIGEST = "goal_digest"
    TARGET = "target"
    POSITION = "position"
    PROGRESS = "progress"
    ERROR = "error"
    GOAL_RECEIVED_AT = "goal_received_at"
    FIRST_COMMAND_AT = "first_command_at"
    POLICY = "policy"
    # the agents process's hop latencies (core/control/latency.py LatencyReport), ms
    STATE_AGE_P50_MS = "state_age_p50_ms"
    STATE_AGE_P99_MS = "state_age_p99_ms"
    STEP_TIME_P50_MS = "step_time_p50_ms"
    STEP_TIME_P99_MS = "step_time_p99_ms"
    STATE_TO_COMMAND_P50_MS = "state_to_command_p50_ms"
    STATE_TO_COMMAND_P99_MS = "state_to_command_p99_ms"
    COMMAND_PUBLISH_P50_MS = "command_publish_p50_ms"
    COMMAND_PUBLISH_P99_MS = "command_publish_p99_ms"
    REALTIME_PREFIX = "realtime"  # realtime.N: one real-time setting's outcome
    READY = "ready"
    READINESS = "readiness"
    STATES_DROPPED = "joint_states_dropped"
    DROP_REASON = "joint_states_dropped_why"
    BACKEND = "backend"
    INSTRUCTION_COUNT = "instruction_count"
    INSTRUCTION_ID = "instruction_id"
    INSTRUCTION = "instruction"
    REASON = "reason"
    STEP = "step"
    RECEIVED_AT = "received_at"
    FIRST_STEP_AT = "first_step_at"
    FINISHED_AT = "finished_at"
    PLANNER = "planner"
    STEPS = "steps"
    SIM_TIME_S = "sim_time_s"
    REJECTED_COMMANDS = "rejected_commands"
    FIRST_STEP_MS = "first_step_ms"
    TOTAL_MS = "total_ms"
    ANSWER = "answer"
    # prefixes of indexed keys: step.N.AGENT.FIELD, rejected.N.FIELD, note.N
    STEP_PREFIX = "step"
    REJECTED_PREFIX = "rejected"
    NOTE_PREFIX = "note"


@dataclass(frozen=True)
class PlannerStatus:
    """What the planner reports: readiness, and the instruction it runs (if any) with its
    plan. `state` is None before the first instruction; times are monotonic s."""

    level: Level
    message: str
    ready: bool
    readiness: str
    backend: str
    instruction_count: int
    instruction_id: int = 0  # which instruction this status is about (numbered from 1)
    state: ExecutionState | None = None
    instruction: str = ""
    reason: str = ""
    step: int = 0
    received_at: float | None = None
    first_step_at: float | None = None
    finished_at: float | None = None
    plan: Plan | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_EXECUTION_STATES

    @property
    def ok(self) -> bool:
        """The instruction did what it asked: ran to its end, or (a stop) stopped everything."""
        return self.state in SUCCESSFUL_EXECUTION_STATES


@dataclass(frozen=True)
class SimStatus:
    """What the embedded simulator reports: its clock (s) and the commands it dropped."""

    level: Level
    message: str
    sim_time_s: float
    rejected_commands: int


def clip_text(text: str, limit: int = CLIP_CHARS) -> str:
    """Untrusted text (an instruction, a goal) as a status carries it: its first `limit`
    characters and its length, so a 1 MB garbage goal is not re-published in every status."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# -- agents ---------------------------------------------------------------------------------------
# LatencyReport field -> its (p50, p99) keys
LATENCY_KEYS = {
    "state_age": (Key.STATE_AGE_P50_MS, Key.STATE_AGE_P99_MS),
    "step_time": (Key.STEP_TIME_P50_MS, Key.STEP_TIME_P99_MS),
    "state_to_command": (Key.STATE_TO_COMMAND_P50_MS, Key.STATE_TO_COMMAND_P99_MS),
    "command_publish": (Key.COMMAND_PUBLISH_P50_MS, Key.COMMAND_PUBLISH_P99_MS),
}


def encode_agent(status: AgentStatus) -> KeyValues:
    readiness = [(Key.READY, str(status.ready).lower()), (Key.READINESS, status.readiness)]
    readiness += [(Key.STATES_DROPPED, str(status.states_dropped))]
    if status.drop_reason:
        readiness += [(Key.DROP_REASON, status.drop_reason)]
    return [*_encode_agent_core(status), *readiness, *_encode_latency(status.latency)] + [
        (f"{Key.REALTIME_PREFIX}.{number}", line) for number, line in enumerate(status.realtime, 1)
    ]


def _encode_latency(report: LatencyReport | None) -> KeyValues:
    """The hops measured so far, as p50/p99 in ms (a hop without samples is left out)."""
    values: KeyValues = []
    for hop, (low, high) in LATENCY_KEYS.items():
        measured: HopLatency | None = getattr(report, hop, None)
        if measured is not None:
            values += [(low, _number(measured.p50_ms, 4)), (high, _number(measured.p99_ms, 4))]
    return values


def _decode_latency(values: Mapping[str, str]) -> LatencyReport | None:
    hops = {}
    for hop, (low, high) in LATENCY_KEYS.items():
        p50, p99 = _float(values.get(low)), _float(values.get(high))
        if p50 is not None and p99 is not None:
            hops[hop] = HopLatency(p50, p99)
    return LatencyReport(**hops) if hops else None


def _encode_agent_core(status: AgentStatus) -> KeyValues:
    return [
        (Key.STATE, status.state.value),
        (Key.GOAL, clip_text(status.goal)),
        (Key.GOAL_COUNT, str(status.goal_count)),
        (Key.GOAL_DIGEST, status.goal_digest),
        (Key.TARGET, _number(status.target)),
        (Key.POSITION, _number(status.position)),
        (Key.PROGRESS, f"{status.progress:.3f}"),
        (Key.ERROR, status.error),
        (Key.GOAL_RECEIVED_AT, _number(status.goal_received_at)),
        (Key.FIRST_COMMAND_AT, _number(status.first_command_at)),
        (Key.POLICY, status.policy),
    ]


def decode_agent(
    name: str, level: int, message: str, values: Mapping[str, str]
) -> AgentStatus | None:
    """An agent's status from its diagnostic values; None if they are not an agent's."""
    try:
        state = AgentState(values.get(Key.STATE, ""))
        goal_count = int(values.get(Key.GOAL_COUNT, ""))
        level_ = Level(level)
    except ValueError:
        return None
    position = _float(values.get(Key.POSITION))
    return AgentStatus(
        name=name,
        state=state,
        level=level_,
        message=message,
        goal=values.get(Key.GOAL, ""),
        goal_count=goal_count,
        goal_digest=values.get(Key.GOAL_DIGEST, ""),
        target=_float(values.get(Key.TARGET)),
        position=math.nan if position is None else position,
        progress=_float(values.get(Key.PROGRESS)) or 0.0,
        error=values.get(Key.ERROR, ""),
        goal_received_at=_float(values.get(Key.GOAL_RECEIVED_AT)),
        first_command_at=_float(values.get(Key.FIRST_COMMAND_AT)),
        policy=values.get(Key.POLICY, ""),
        latency=_decode_latency(values),
        ready=values.get(Key.READY) == "true",
        readiness=values.get(Key.READINESS, ""),
        states_dropped=int(_float(values.get(Key.STATES_DROPPED)) or 0),
        drop_reason=values.get(Key.DROP_REASON, ""),
        realtime=tuple(
            fields[""] for fields in _indexed(values, Key.REALTIME_PREFIX, leaf=True).values()
        ),
    )


# -- the planner ----------------------------------------------------------------------------------
def encode_planner(status: PlannerStatus) -> KeyValues:
    values: KeyValues = [
        (Key.READY, str(status.ready).lower()),
        (Key.READINESS, status.readiness),
        (Key.BACKEND, status.backend),
        (Key.INSTRUCTION_COUNT, str(status.instruction_count)),
    ]
    if status.state is not None:
        values += [
            (Key.INSTRUCTION_ID, str(status.instruction_id)),
            (Key.STATE, status.state.value),
            (Key.INSTRUCTION, clip_text(status.instruction)),
            (Key.REASON, status.reason),
            (Key.STEP, str(status.step)),
            (Key.RECEIVED_AT, _number(status.received_at)),
            (Key.FIRST_STEP_AT, _number(status.first_step_at)),
            (Key.FINISHED_AT, _number(status.finished_at)),
        ]
    if status.plan is not None:
        values += encode_plan(status.plan)
    return values


def decode_planner(level: int, message: str, values: Mapping[str, str]) -> PlannerStatus | None:
    """The planner's status from its diagnostic values; None if they are not a planner's."""
    try:
        level_ = Level(level)
        count = int(values.get(Key.INSTRUCTION_COUNT, ""))
        instruction_id = int(values.get(Key.INSTRUCTION_ID) or 0)
        state = ExecutionState(values[Key.STATE]) if Key.STATE in values else None
        step = int(values.get(Key.STEP) or 0)
    except ValueError:
        return None
    instruction = values.get(Key.INSTRUCTION, "")
    return PlannerStatus(
        level=level_,
        message=message,
        ready=values.get(Key.READY) == "true",
        readiness=values.get(Key.READINESS, ""),
        backend=values.get(Key.BACKEND, ""),
        instruction_count=count,
        instruction_id=instruction_id,
        state=state,
        instruction=instruction,
        reason=values.get(Key.REASON, ""),
        step=step,
        received_at=_float(values.get(Key.RECEIVED_AT)),
        first_step_at=_float(values.get(Key.FIRST_STEP_AT)),
        finished_at=_float(values.get(Key.FINISHED_AT)),
        plan=decode_plan(instruction, values) if Key.PLANNER in values else None,
    )


def encode_plan(plan: Plan) -> KeyValues:
    """A plan as key/values: step.N.AGENT.{goal,target,duration_s}, rejected.N.*, note.N, and
    a question's answer."""
    values: KeyValues = [
        (Key.PLANNER, plan.planner),
        (Key.STEPS, str(len(plan.steps))),
        (Key.FIRST_STEP_MS, _number(plan.first_step_ms, 3)),
        (Key.TOTAL_MS, _number(plan.total_ms, 3)),
    ]
    for number, step in enumerate(plan.steps, 1):
        for goal in step:
            prefix = f"{Key.STEP_PREFIX}.{number}.{goal.agent}"
            values += [
                (f"{prefix}.goal", goal.goal),
                (f"{prefix}.target", _number(goal.target)),
                (f"{prefix}.duration_s", _number(goal.duration_s, 3)),
            ]
    for number, rejection in enumerate(plan.rejected, 1):
        prefix = f"{Key.REJECTED_PREFIX}.{number}"
        values += [
            (f"{prefix}.agent", rejection.agent),
            (f"{prefix}.goal", rejection.goal),
            (f"{prefix}.reason", rejection.reason),
        ]
    values += [(f"{Key.NOTE_PREFIX}.{number}", note) for number, note in enumerate(plan.notes, 1)]
    if plan.answer is not None:  # absent, not empty, when the plan answers nothing
        values.append((Key.ANSWER, clip_text(plan.answer, ANSWER_CHARS)))
    return values


def decode_plan(instruction: str, values: Mapping[str, str]) -> Plan:
    """The plan `encode_plan` wrote (for the instruction given: the status clips its own)."""
    steps = []
    for fields in _indexed(values, Key.STEP_PREFIX).values():
        agents = dict.fromkeys(key.rsplit(".", 1)[0] for key in fields)
        steps.append(
            tuple(
                Goal(
                    agent,
                    fields.get(f"{agent}.goal", ""),
                    _float(fields.get(f"{agent}.target")),
                    _float(fields.get(f"{agent}.duration_s")),
                )
                for agent in agents
            )
        )
    rejected = tuple(
        Rejection(r.get("agent", ""), r.get("goal", ""), r.get("reason", ""))
        for r in _indexed(values, Key.REJECTED_PREFIX).values()
    )
    notes = tuple(fields[""] for fields in _indexed(values, Key.NOTE_PREFIX, leaf=True).values())
    return Plan(
        instruction,
        values.get(Key.PLANNER, ""),
        tuple(steps),
        rejected,
        notes,
        first_step_ms=_float(values.get(Key.FIRST_STEP_MS)) or 0.0,
        total_ms=_float(values.get(Key.TOTAL_MS)) or 0.0,
        answer=values.get(Key.ANSWER),
    )


# -- the simulator --------------------------------------------------------------------------------
def encode_sim(status: SimStatus) -> KeyValues:
    return [
        (Key.SIM_TIME_S, f"{status.sim_time_s:.3f}"),
        (Key.REJECTED_COMMANDS, str(status.rejected_commands)),
    ]


def decode_sim(level: int, message: str, values: Mapping[str, str]) -> SimStatus | None:
    try:
        return SimStatus(
            Level(level),
            message,
            float(values[Key.SIM_TIME_S]),
            int(values[Key.REJECTED_COMMANDS]),
        )
    except (KeyError, ValueError):
        return None


# -- numbers --------------------------------------------------------------------------------------
def _number(value: float | None, decimals: int = 6) -> str:
    return "" if value is None or not math.isfinite(value) else format_number(value, decimals)


def _float(text: str | None) -> float | None:
    """A finite number, or None (empty, not a number, NaN or infinite)."""
    try:
        value = float(text) if text else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _indexed(
    values: Mapping[str, str], head: str, leaf: bool = False
) -> dict[int, dict[str, str]]:
    """`head.N.rest` keys grouped by N (in order) as {rest: value}; with `leaf`, `head.N` keys
    as {"": value}."""
    groups: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        parts = key.split(".", 2)
        if parts[0] != head or len(parts) < 2 or not parts[1].isdigit():
            continue
        if leaf and len(parts) == 2:
            groups.setdefault(int(parts[1]), {})[""] = value
        elif not leaf and len(parts) == 3:
            groups.setdefault(int(parts[1]), {})[parts[2]] = value
    return dict(sorted(groups.items()))
