"""What one bench run measures and for how long: sample counts and durations as options, and the
instructions it sends. No ROS: the command line and the tests build these."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

ARM_AGENTS = 7  # agents of the reference arm: the scaling counts are multiples of it
FAST_PATH_INSTRUCTIONS = ("gripper open", "gripper close")  # the rules planner, no model
# Free-form phrasings the embedded model planned right in the dev set (benchmarks/results/
# meaning/dev), one joint each: distinct, so the plan cache never answers them. The rules grow
# and may take one over: which planner took each is recorded, and the model's timings are
# over the trials it planned.
MODEL_INSTRUCTIONS = (
    "I'd like a shoulder angle of 0.4 radians",
    "Flex the elbow to seventy degrees",
    "Rotate the hand 45 degrees counterclockwise",
    "I need the elbow at 1.1 radians",
    "Sorry to bother you, but could the wrist roll go to 15 degrees?",
    "rotat the base to 75 degres",
    "twist the wirst roll to 30 deg",
    "Hi! Please could you move the elbow to 25 degrees? Thanks!",
    "swing the base to the right, 90 degrees",
    "bend the elbwo by 10 degress",
    "Would you be so kind as to open the gripper?",
    "let the object go",
)
DECODE_LOADS = ("model", "busy")  # the planner's model, or a CPU-busy stand-in process
PLANNERS = ("smollm2", "rules")  # the embedded model, or none (fast paths only)


@dataclass(frozen=True)
class BenchSettings:
    """Durations in s, rates in Hz. `seconds` is each (system, rate)'s measured time, split
    over `passes` rounds of every system in turn (load from elsewhere then falls on all)."""

    rates_hz: tuple[float, ...] = (100.0, 200.0, 500.0)
    seconds: float = 3.0
    passes: int = 2
    warm_up_s: float = 0.3
    scaling_agents: tuple[int, ...] = (7, 14, 28, 56)
    scaling_rate_hz: float = 100.0
    scaling_seconds: float = 3.0
    starts: int = 8  # starts of the tuned agents process, each measured start -> ready
    naive_starts: int = 1  # of the naive build (7 processes importing torch: slow)
    decode_rate_hz: float = 500.0
    decode_seconds: float = 4.0
    decode_load: str = "model"
    decode_interval_s: float = 0.5  # a new instruction this often while decoding
    planner: str = "smollm2"  # the backend of the instruction and decode graphs
    trials: int = 3  # instructions of each kind (fast path, model)
    ready_timeout_s: float = 120.0

    @property
    def headline_rate_hz(self) -> float:
        return max(self.rates_hz)

    def check(self) -> None:
        """A ValueError naming the first setting that cannot be run."""
        if not self.rates_hz or min(self.rates_hz) <= 0:
            raise ValueError("rates must be positive")
        if self.seconds <= 0 or self.passes < 1 or self.decode_seconds <= 0:
            raise ValueError("durations must be positive and passes at least 1")
        if any(n <= 0 or n % ARM_AGENTS for n in self.scaling_agents):
            raise ValueError(f"scaling counts must be multiples of {ARM_AGENTS} (whole arms)")
        if self.decode_load not in DECODE_LOADS:
            raise ValueError(f"decode load must be one of {', '.join(DECODE_LOADS)}")
        if self.planner not in PLANNERS:
            raise ValueError(f"planner must be one of {', '.join(PLANNERS)}")
        if self.starts < 1 or self.trials < 0 or self.naive_starts < 0:
            raise ValueError("starts must be at least 1, trials and naive starts at least 0")


QUICK = BenchSettings(
    rates_hz=(100.0, 500.0),
    seconds=0.6,
    passes=1,
    warm_up_s=0.1,
    scaling_agents=(7, 14),
    scaling_seconds=0.6,
    starts=1,
    naive_starts=0,
    decode_seconds=0.6,
    decode_load="busy",
    planner="rules",
    trials=1,
)


def settings_for(quick: bool = False, **overrides: object) -> BenchSettings:
    """The full (or QUICK) settings with the `overrides` that are not None, checked: a
    ValueError names the first setting that cannot be run. Rates and agent counts come
    sorted: the headline rate is the highest, the scaling starts from the fewest agents."""
    given = {key: value for key, value in overrides.items() if value is not None}
    for key in ("rates_hz", "scaling_agents"):
        if key in given:
            given[key] = tuple(sorted(set(given[key])))  # type: ignore[call-overload]
    settings = dataclasses.replace(QUICK if quick else BenchSettings(), **given)  # type: ignore[arg-type]
    settings.check()
    return settings
