"""Control policies: one batched `act(observation)` for every agent of a process per tick.

The observation is a struct of arrays (one row per agent), so N agents cost one numpy call rather
than N Python calls. The classical policy here tracks a minimum-jerk trajectory; a learned,
language-conditioned policy implements the same `Policy` protocol and reads the same arrays, plus
the goal rows (`goal_*`, `goal_embedding`) that an agent writes once per goal, never per tick.
Units: rad or m, s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..language.agent_language import Skill, Subgoal

# Codes of the `goal_skill` and `goal_style` slots: positions in these tuples (every style of
# agent_language.STYLE_WORDS has one). A trained policy depends on them: append, never reorder.
SKILL_CODES: tuple[Skill, ...] = tuple(Skill)
STYLE_CODES: tuple[str, ...] = ("slowly", "gently", "quickly")
# The numeric goal slots of `Observation`, NaN when absent.
GOAL_SLOTS = (
    "goal_skill",
    "goal_target",
    "goal_duration_s",
    "goal_amplitude",
    "goal_repetitions",
    "goal_style",
)


def _empty() -> np.ndarray:
    return np.empty(0)


@dataclass
class Observation:
    """State of N agents at one tick, one row each (arrays of shape (N,), float64).

    The per-tick fields are rewritten every tick. The goal fields describe each agent's current
    goal as parsed: they are written when the agent accepts a goal and cleared (NaN, a zero
    embedding) when it holds for another reason (refusal, e-stop, lost joint state), never per
    tick, so the classical policy, which ignores them, pays nothing for them."""

    position: np.ndarray  # measured joint position
    velocity: np.ndarray  # measured joint velocity (rad/s or m/s)
    segment_start: np.ndarray  # where the current segment began
    segment_target: np.ndarray  # where it ends (equal to segment_start when holding)
    elapsed_s: np.ndarray  # time since the segment began
    duration_s: np.ndarray  # segment duration; 0 means hold segment_target
    lower: np.ndarray = field(default_factory=_empty)  # URDF position limits
    upper: np.ndarray = field(default_factory=_empty)
    # -- the current goal, NaN when absent (no goal, or the goal does not say it) -------------
    goal_skill: np.ndarray = field(default_factory=_empty)  # index in SKILL_CODES
    goal_target: np.ndarray = field(default_factory=_empty)  # where the goal ends (rad or m)
    goal_duration_s: np.ndarray = field(default_factory=_empty)  # duration it asks for (s)
    goal_amplitude: np.ndarray = field(default_factory=_empty)  # wave amplitude (rad or m)
    goal_repetitions: np.ndarray = field(default_factory=_empty)  # wave repetitions
    goal_style: np.ndarray = field(default_factory=_empty)  # index in STYLE_CODES
    # float32 (N, dim): a text embedding of the goal from a `GoalEncoder`; dim 0 without one
    goal_embedding: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.float32))

    def __post_init__(self) -> None:
        # Bumped by `set_goal` / `clear_goal`: a policy may cache what it derives from the goal
        # fields until this changes (write them only through those two methods).
        self.goal_version = 0

    def rows(self, start: int, stop: int | None = None) -> Observation:
        """Agents start..stop-1 (default: agent `start` alone) as an observation of their own
        (copies of the rows)."""
        end = start + 1 if stop is None else stop
        return Observation(
            **{name: getattr(self, name)[start:end].copy() for name in self.__dataclass_fields__}
        )

    @classmethod
    def zeros(cls, count: int, embedding_dim: int = 0) -> Observation:
        """N agents at rest with no limits and no goal; `embedding_dim` columns of goal
        embedding (0: the policy reads no text)."""
        arrays = {
            name: np.zeros(count) for name in cls.__dataclass_fields__ if name not in GOAL_SLOTS
        }
        arrays["lower"] = np.full(count, -np.inf)
        arrays["upper"] = np.full(count, np.inf)
        arrays.update({name: np.full(count, np.nan) for name in GOAL_SLOTS})
        arrays["goal_embedding"] = np.zeros((count, embedding_dim), dtype=np.float32)
        return cls(**arrays)

    def set_goal(
        self, row: int, goal: Subgoal, target: float, embedding: np.ndarray | None = None
    ) -> None:
        """Write agent `row`'s goal slots: `goal` as parsed, `target` where its checked motion
        ends (rad or m: a 'move by', a pose or a wave resolved against the joint)."""
        wave = goal.skill is Skill.WAVE
        self.goal_skill[row] = SKILL_CODES.index(goal.skill)
        self.goal_target[row] = target
        self.goal_duration_s[row] = np.nan if goal.duration_s is None else goal.duration_s
        self.goal_amplitude[row] = goal.value if wave and goal.value is not None else np.nan
        self.goal_repetitions[row] = goal.repetitions if wave else np.nan
        self.goal_style[row] = np.nan if goal.style is None else STYLE_CODES.index(goal.style)
        self.goal_embedding[row] = 0.0 if embedding is None else embedding
        self.goal_version += 1

    def clear_goal(self, row: int) -> None:
        """Agent `row` has no goal: it holds (refused goal, e-stop, lost joint state)."""
        for name in GOAL_SLOTS:
            getattr(self, name)[row] = np.nan
        self.goal_embedding[row] = 0.0
        self.goal_version += 1


class GoalEncoder(Protocol):
    """A goal's manner words (`Subgoal.manner`) -> one row of `Observation.goal_embedding`
    (float32, shape (dim,)), and the tempo that embedding asks for. Called once per accepted
    goal (in the goal's callback, so the first tick of the goal reads it), never per tick; an
    implementation may import torch, the core never does unless one is configured."""

    dim: int

    def encode(self, manner: str) -> np.ndarray: ...

    def speed_fraction(self, embedding: np.ndarray) -> float | None:
        """The share of the velocity limit a goal with this embedding moves at when it names
        no duration; None: its style's (`robot.control.speed_fraction`)."""
        ...


class Policy(Protocol):
    """Maps an observation of N agents to N commanded joint positions (rad or m)."""

    name: str

    def act(self, observation: Observation) -> np.ndarray: ...


def clip_into(values: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> None:
    """`np.clip(values, low, high, out=values)` as two ufunc calls: np.clip's dispatch costs
    ~3.7 us per call on 7 values here, maximum + minimum ~1.3 us (measured); the same result,
    NaN included. For the control-rate paths."""
    np.maximum(values, low, out=values)
    np.minimum(values, high, out=values)


def minimum_jerk_fraction(phase: np.ndarray) -> np.ndarray:
    """Share of the distance covered at `phase` in [0, 1]: 10 s^3 - 15 s^4 + 6 s^5."""
    s = np.clip(phase, 0.0, 1.0)
    fraction: np.ndarray = s * s * s * (10.0 + s * (-15.0 + 6.0 * s))
    return fraction


def minimum_jerk_rate(phase: np.ndarray) -> np.ndarray:
    """d(fraction)/d(phase) at `phase`: 30 s^2 (1 - s)^2 (times distance / duration: velocity)."""
    s = np.clip(phase, 0.0, 1.0)
    rate: np.ndarray = 30.0 * (s * (1.0 - s)) ** 2
    return rate


class MinimumJerkPolicy:
    """Follows each agent's segment on a minimum-jerk path: zero velocity and acceleration at
    both ends, so a position-controlled joint starts and stops without a jolt."""

    name = "minimum_jerk"

    def act(self, observation: Observation) -> np.ndarray:
        duration = observation.duration_s
        phase = np.divide(
            observation.elapsed_s, duration, out=np.ones_like(duration), where=duration > 0.0
        )
        delta = observation.segment_target - observation.segment_start
        command: np.ndarray = observation.segment_start + delta * minimum_jerk_fraction(phase)
        if observation.lower.size:
            clip_into(command, observation.lower, observation.upper)
        return command
