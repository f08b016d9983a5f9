"""Control policies: one batched `act(observation)` for every agent of a process per tick.

The observation is a struct of arrays (one row per agent), so N agents cost one numpy call rather
than N Python calls. The classical policy here tracks a minimum-jerk trajectory; a learned,
language-conditioned policy implements the same `Policy` protocol and reads the same arrays.
Units: rad or m, s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Observation:
    """State of N agents at one tick, one row each (arrays of shape (N,), float64)."""

    position: np.ndarray  # measured joint position
    velocity: np.ndarray  # measured joint velocity (rad/s or m/s)
    segment_start: np.ndarray  # where the current segment began
    segment_target: np.ndarray  # where it ends (equal to segment_start when holding)
    elapsed_s: np.ndarray  # time since the segment began
    duration_s: np.ndarray  # segment duration; 0 means hold segment_target
    lower: np.ndarray = field(default_factory=lambda: np.empty(0))  # URDF position limits
    upper: np.ndarray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def zeros(cls, count: int) -> Observation:
        arrays = {name: np.zeros(count) for name in cls.__dataclass_fields__}
        arrays["lower"] = np.full(count, -np.inf)
        arrays["upper"] = np.full(count, np.inf)
        return cls(**arrays)


class Policy(Protocol):
    """Maps an observation of N agents to N commanded joint positions (rad or m)."""

    name: str

    def act(self, observation: Observation) -> np.ndarray: ...


def minimum_jerk_fraction(phase: np.ndarray) -> np.ndarray:
    """Share of the distance covered at `phase` in [0, 1]: 10 s^3 - 15 s^4 + 6 s^5."""
    s = np.clip(phase, 0.0, 1.0)
    return s * s * s * (10.0 + s * (-15.0 + 6.0 * s))


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
        command = observation.segment_start + delta * minimum_jerk_fraction(phase)
        if observation.lower.size:
            np.clip(command, observation.lower, observation.upper, out=command)
        return command
