"""Plans: ordered steps of subgoals that run together, plus what the shield rejected.

The JSON form is a contract (ARCHITECTURE.md section 5):
  {"instruction", "planner", "steps": [[{"agent", "goal", "target", "duration_s"}]],
   "rejected": [{"agent", "goal", "reason"}], "notes": [str], "answer": str | null,
   "latency_ms": {"first_step", "total"}}
A question ("where is the elbow?") is answered, not planned: its plan has no steps and an
`answer`, and moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..language.agent_language import Subgoal


@dataclass(frozen=True)
class Proposal:
    """A subgoal a planner proposes for an agent, not yet checked by the safety shield.
    `subgoal` is its parse when the planner has one already (the rules parse to decide), so
    the shield does not parse it again; a model's text is parsed by the shield."""

    agent: str
    goal: str
    subgoal: Subgoal | None = field(default=None, compare=False)
    note: str | None = field(default=None, compare=False)  # what the planner assumed


ProposedStep = tuple[Proposal, ...]


@dataclass(frozen=True)
class Goal:
    """A checked subgoal: the canonical agent-language text the agent receives, its resolved
    final joint value (rad, or m for prismatic joints; None when it has none, e.g. 'hold') and
    its duration (s) at its style's speed. `longest_s`: the longest it may take where that is
    longer (a learned agent times a goal's manner words itself, no slower than the slowest
    configured speed): how long the planner waits before it calls the step late."""

    agent: str
    goal: str
    target: float | None
    duration_s: float | None
    longest_s: float | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "goal": self.goal,
            "target": _round(self.target, 6),
            "duration_s": _round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class Rejection:
    agent: str
    goal: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "goal": self.goal, "reason": self.reason}


Step = tuple[Goal, ...]


@dataclass(frozen=True)
class Plan:
    """A validated plan. `notes` say what the shield changed (stretched, clamped)."""

    instruction: str
    planner: str
    steps: tuple[Step, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    notes: tuple[str, ...] = ()
    first_step_ms: float = 0.0
    total_ms: float = 0.0
    stop: bool = False  # the stop fast path: hold every agent now, cancel what runs
    answer: str | None = None  # a question's answer (then there are no steps)

    @property
    def executable(self) -> bool:
        """A plan runs only when nothing in it was rejected and it has something to do."""
        return not self.rejected and bool(self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "instruction": self.instruction,
            "planner": self.planner,
            "steps": [[goal.to_json() for goal in step] for step in self.steps],
            "rejected": [rejection.to_json() for rejection in self.rejected],
            "notes": list(self.notes),
            "answer": self.answer,
            "latency_ms": {
                "first_step": round(self.first_step_ms, 3),
                "total": round(self.total_ms, 3),
            },
        }

    def describe(self) -> str:
        """Human-readable plan, as published on /plan."""
        lines = [f"plan for {self.instruction!r} ({self.planner}):"]
        for number, step in enumerate(self.steps, 1):
            goals = "; ".join(f"{goal.agent}: {goal.goal}" for goal in step)
            lines.append(f"  step {number}: {goals}")
        lines.extend(f"  rejected {r.agent}: {r.goal!r} ({r.reason})" for r in self.rejected)
        lines.extend(f"  note: {note}" for note in self.notes)
        if self.answer is not None:
            lines.append(f"  answer: {self.answer}")
        return "\n".join(lines)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class PlanBuilder:
    """Accumulates a plan as steps stream in (first step first)."""

    instruction: str
    planner: str
    steps: list[Step] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def build(self, first_step_ms: float, total_ms: float, stop: bool = False) -> Plan:
        return Plan(
            self.instruction,
            self.planner,
            tuple(self.steps),
            tuple(self.rejected),
            tuple(self.notes),
            first_step_ms,
            total_ms,
            stop,
        )
