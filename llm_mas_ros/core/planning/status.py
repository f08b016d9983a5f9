"""Status as diagnostic key/values: what agents and the planner publish, and how to read it back.

/diagnostics carries diagnostic_msgs/DiagnosticStatus, whose `values` are string key/values:
tools (rqt_runtime_monitor, Foxglove) show them as they are, and the planner and the CLI read
them back with the functions here, so writer and reader cannot drift apart.
Times are monotonic-clock seconds; positions rad or m.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..control.agent import AgentState, AgentStatus
from ..language.quantities import format_number
from .plan import Plan

KeyValues = list[tuple[str, str]]
CLIP_CHARS = 200  # longest untrusted text a status repeats (it is re-sent several times a s)


@dataclass(frozen=True)
class AgentReport:
    """The part of an agent's status the executor needs (parsed from /diagnostics)."""

    name: str
    state: AgentState
    goal: str  # as reported: clipped by `clip_text`
    goal_count: int
    error: str
    received_at: float
    position: float = float("nan")  # rad or m, as the agent last measured it


def clip_text(text: str, limit: int = CLIP_CHARS) -> str:
    """Untrusted text (an instruction, a goal) as a status carries it: its first `limit`
    characters and its length, so a 1 MB garbage goal is not re-published in every status."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _number(value: float | None, decimals: int = 6) -> str:
    return "" if value is None or not math.isfinite(value) else format_number(value, decimals)


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def agent_values(status: AgentStatus) -> KeyValues:
    return [
        ("state", status.state.value),
        ("goal", clip_text(status.goal)),
        ("goal_count", str(status.goal_count)),
        ("target", _number(status.target)),
        ("position", _number(status.position)),
        ("progress", f"{status.progress:.3f}"),
        ("error", status.error),
        ("goal_received_at", _number(status.goal_received_at)),
        ("first_command_at", _number(status.first_command_at)),
    ]


def agent_report(name: str, values: Mapping[str, str], received_at: float) -> AgentReport | None:
    """An AgentReport from an agent's diagnostic values; None if they are not an agent's."""
    try:
        state = AgentState(values.get("state", ""))
        goal_count = int(values.get("goal_count", ""))
    except ValueError:
        return None
    position = _float(values.get("position"))
    return AgentReport(
        name=name,
        state=state,
        goal=values.get("goal", ""),
        goal_count=goal_count,
        error=values.get("error", ""),
        received_at=received_at,
        position=math.nan if position is None else position,
    )


def first_command_at(values: Mapping[str, str]) -> float | None:
    return _float(values.get("first_command_at"))


def plan_values(plan: Plan) -> KeyValues:
    """A plan as key/values: step.N.AGENT.{goal,target,duration_s}, rejected.N.*, note.N."""
    values: KeyValues = [
        ("planner", plan.planner),
        ("steps", str(len(plan.steps))),
        ("first_step_ms", _number(plan.first_step_ms, 3)),
        ("total_ms", _number(plan.total_ms, 3)),
    ]
    for number, step in enumerate(plan.steps, 1):
        for goal in step:
            prefix = f"step.{number}.{goal.agent}"
            values += [
                (f"{prefix}.goal", goal.goal),
                (f"{prefix}.target", _number(goal.target)),
                (f"{prefix}.duration_s", _number(goal.duration_s, 3)),
            ]
    for number, rejection in enumerate(plan.rejected, 1):
        values += [
            (f"rejected.{number}.agent", rejection.agent),
            (f"rejected.{number}.goal", rejection.goal),
            (f"rejected.{number}.reason", rejection.reason),
        ]
    values += [(f"note.{number}", note) for number, note in enumerate(plan.notes, 1)]
    return values


def _indexed(values: Mapping[str, str], head: str) -> dict[int, dict[str, str]]:
    groups: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        parts = key.split(".", 2)
        if len(parts) == 3 and parts[0] == head and parts[1].isdigit():
            groups.setdefault(int(parts[1]), {})[parts[2]] = value
    return dict(sorted(groups.items()))


def plan_json(instruction: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The ARCHITECTURE section 5 plan JSON, rebuilt from a planner's diagnostic values."""
    steps = []
    for fields in _indexed(values, "step").values():
        agents = dict.fromkeys(key.rsplit(".", 1)[0] for key in fields)
        steps.append(
            [
                {
                    "agent": agent,
                    "goal": fields.get(f"{agent}.goal", ""),
                    "target": _float(fields.get(f"{agent}.target")),
                    "duration_s": _float(fields.get(f"{agent}.duration_s")),
                }
                for agent in agents
            ]
        )
    rejected = [
        {"agent": r.get("agent", ""), "goal": r.get("goal", ""), "reason": r.get("reason", "")}
        for r in _indexed(values, "rejected").values()
    ]
    notes = [
        value
        for _, value in sorted(
            (int(key[5:]), value)
            for key, value in values.items()
            if key.startswith("note.") and key[5:].isdigit()
        )
    ]
    return {
        "instruction": instruction,
        "planner": values.get("planner", ""),
        "steps": steps,
        "rejected": rejected,
        "notes": notes,
        "latency_ms": {
            "first_step": _float(values.get("first_step_ms")) or 0.0,
            "total": _float(values.get("total_ms")) or 0.0,
        },
    }
