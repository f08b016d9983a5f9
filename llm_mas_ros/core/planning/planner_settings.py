"""Planner settings (config/planner.yaml) and building the planning pipeline from them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..robot.model import RobotModel, is_robot_parameter
from ..robot.schema import (
    NON_NEGATIVE,
    POSITIVE,
    Range,
    dataclass_specs,
    is_ros_parameter,
    read_parameters,
)
from .dispatcher import Arrival, Dispatcher
from .pipeline import Planner, PlanningPipeline
from .plan import ProposedStep


class PlannerBackend(StrEnum):
    """What turns an instruction that is not already agent language into a plan."""

    RULES = "rules"  # no model: agent-language instructions only
    SMOLLM2 = "smollm2"  # the embedded SmolLM2-135M-Instruct
    LOCAL = "local"  # any transformers causal-LM directory (model_path)


class Dtype(StrEnum):
    """Model precision; AUTO: bfloat16 where the CPU has it, else float32."""

    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"


class ShieldMode(StrEnum):
    """What the safety shield does with an out-of-limit target."""

    REJECT = "reject"
    CLAMP = "clamp"


BACKENDS = tuple(PlannerBackend)
SHIELD_MODES = tuple(ShieldMode)
DTYPES = tuple(Dtype)


@dataclass(frozen=True)
class PlannerSettings:
    backend: PlannerBackend = PlannerBackend.SMOLLM2
    model_path: str = ""
    device: str = "auto"
    dtype: Dtype = Dtype.AUTO
    threads: int = 0
    examples_file: str = "planner_examples.yaml"
    examples: int = 6
    max_new_tokens: int = 192
    shield_mode: ShieldMode = ShieldMode.REJECT
    cache_size: int = 256
    step_timeout_margin_s: float = 5.0
    agent_timeout_s: float = 2.0
    arrival: Arrival = Arrival.PREEMPT
    queue_size: int = 4

    def __post_init__(self) -> None:  # closed sets as enums, even when given plain strings
        object.__setattr__(self, "backend", PlannerBackend(self.backend))
        object.__setattr__(self, "arrival", Arrival(self.arrival))
        object.__setattr__(self, "dtype", Dtype(self.dtype))
        object.__setattr__(self, "shield_mode", ShieldMode(self.shield_mode))

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        """Each setting's description, unit and constraints, as `ros2 param describe` says."""
        return {spec.name: spec.text() for spec in PLANNER_PARAMETERS}


PLANNER_PARAMETERS = dataclass_specs(
    PlannerSettings,
    descriptions={
        "backend": "planner backend for instructions that are not agent language",
        "model_path": "transformers causal-LM directory (backend 'local')",
        "device": "where the model runs: auto | cpu | cuda",
        "dtype": "model precision (auto: bfloat16 where the CPU has it, else float32)",
        "threads": "CPU threads for the model (0: automatic: 1 on 2 CPUs or fewer, else all "
        "but one, at most 8)",
        "examples_file": "few-shot example bank (absolute, or under share/config)",
        "examples": "examples retrieved into each prompt",
        "max_new_tokens": "longest plan the model may write, in tokens",
        "shield_mode": "what the safety shield does with out-of-limit targets",
        "cache_size": "plans kept for repeated instructions (0: no cache)",
        "step_timeout_margin_s": "a step fails this long after its longest motion ends",
        "agent_timeout_s": "an agent silent this long is treated as failed",
        "arrival": "an instruction arriving while another runs: preempt (replace it) | queue "
        "(wait for it) | merge (run beside it when their agents are disjoint, else replace)",
        "queue_size": "instructions that may wait under arrival 'queue'; one more is rejected",
    },
    units={"step_timeout_margin_s": "s", "agent_timeout_s": "s"},
    ranges={
        "threads": NON_NEGATIVE,
        "examples": NON_NEGATIVE,
        "max_new_tokens": Range(16),
        "cache_size": NON_NEGATIVE,
        "step_timeout_margin_s": NON_NEGATIVE,
        "agent_timeout_s": POSITIVE,
        "queue_size": Range(1),
    },
    choices={
        "backend": PlannerBackend,
        "dtype": Dtype,
        "shield_mode": ShieldMode,
        "arrival": Arrival,
    },
)


def _planner_or_elsewhere(name: str) -> bool:
    # The planner's parameters are read beside the robot's (`/**` of robot.yaml).
    return is_robot_parameter(name) or is_ros_parameter(name)


def planner_settings_from_params(params: Mapping[str, Any]) -> PlannerSettings:
    """The planner settings from flat parameters (rclpy's, or robot.yaml + planner.yaml's):
    typed and ranged by PLANNER_PARAMETERS; a key that is neither the planner's nor the robot's
    is refused, naming the key and file."""
    values = read_parameters(PLANNER_PARAMETERS, params, _planner_or_elsewhere)
    settings = PlannerSettings(**values)
    if settings.backend is PlannerBackend.LOCAL and not settings.model_path:
        raise ConfigError("backend 'local' needs model_path: a transformers model directory")
    return settings


def build_dispatcher(robot: RobotModel, backend: str, settings: PlannerSettings) -> Dispatcher:
    """The planner's decisions with its configured timeouts and arrival policy."""
    return Dispatcher(
        robot,
        backend,
        settings.step_timeout_margin_s,
        settings.agent_timeout_s,
        settings.arrival,
        settings.queue_size,
    )


def local_model_name(model_path: str | Path) -> str:
    """What a `local` model's plans report as their planner: 'local:<directory name>'."""
    return f"local:{Path(model_path).expanduser().name}"


def planner_name(settings: PlannerSettings) -> str:
    """The name the configured backend's plans report, known without loading its model."""
    if settings.backend is PlannerBackend.LOCAL:
        return local_model_name(settings.model_path)
    return str(settings.backend)


class LazyPlanner:
    """A planner backend that loads its model when an instruction first needs one: a `plan`
    that only takes fast paths (stop, the rules, the cache), or fails its instruction check,
    never pays the seconds a model takes to load. `name` is known before loading."""

    def __init__(
        self,
        name: str,
        load: Callable[[], Planner],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.name = name
        self._load = load
        self._clock = clock
        self._planner: Planner | None = None
        self.load_s = 0.0  # how long loading took (0 until it has)

    @property
    def is_loaded(self) -> bool:
        return self._planner is not None

    def load(self) -> Planner:
        """The loaded backend, loading it first when needed (a failed load is tried again on
        the next call)."""
        if self._planner is None:
            started = self._clock()
            self._planner = self._load()
            self.load_s = self._clock() - started
        return self._planner

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        # A plain function, not a generator: the model loads on this call, not on the first
        # step asked for, so planning_clock() has counted the load before any step is timed.
        return self.load().propose(instruction)

    def planning_clock(self) -> float:
        """The clock less the time spent loading: the pipeline's latencies with this clock
        measure the planning, as with a model loaded in advance, not the one-time load."""
        return self._clock() - self.load_s


def build_pipeline(
    robot: RobotModel,
    settings: PlannerSettings,
    *,
    eager: bool = True,
    before_load: Callable[[], None] | None = None,
) -> PlanningPipeline:
    """The pipeline with its backend. `eager` (the planner node): loaded and warmed up now, so
    a running robot's first instruction is as fast as the rest (a language model takes seconds
    to load; the first SmolLM2 start converts its GGUF once, ~30 s, and says so). Otherwise
    (`llm-mas-ros plan`): a LazyPlanner that does the same, with `before_load` first, when an
    instruction first needs the model; latencies leave that load out."""
    clamp = settings.shield_mode is ShieldMode.CLAMP
    if settings.backend is PlannerBackend.RULES:
        return PlanningPipeline(robot, None, clamp=clamp, cache_size=settings.cache_size)
    if eager:
        backend = _load_backend(robot, settings)
        return PlanningPipeline(robot, backend, clamp=clamp, cache_size=settings.cache_size)

    def load() -> Planner:
        if before_load is not None:
            before_load()
        return _load_backend(robot, settings)

    lazy = LazyPlanner(planner_name(settings), load)
    return PlanningPipeline(
        robot, lazy, clamp=clamp, cache_size=settings.cache_size, clock=lazy.planning_clock
    )


def _load_backend(robot: RobotModel, settings: PlannerSettings) -> Planner:
    """The configured model backend (not 'rules'), loaded and warmed up."""
    # torch, transformers and the retriever only when a model is used
    from .llm.backend import load_backend, warm_up
    from .llm.retrieval import EmbeddingRetriever

    retriever = None
    if settings.examples:
        retriever = EmbeddingRetriever.from_file(settings.examples_file)
    backend = load_backend(
        settings.backend,
        robot,
        model_path=settings.model_path,
        device=settings.device,
        retriever=retriever,
        dtype=settings.dtype,
        threads=settings.threads or None,
        examples=settings.examples,
        max_new_tokens=settings.max_new_tokens,
    )
    if backend is None:  # only 'rules' has none, and build_pipeline never loads it
        raise ConfigError(f"backend {settings.backend!r} has no model to load")
    warm_up(backend)
    return backend
