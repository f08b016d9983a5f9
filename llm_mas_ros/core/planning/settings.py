"""Planner settings (config/planner.yaml) and building the planning pipeline from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..robot import param_files as P
from ..robot.model import RobotModel
from .pipeline import PlanningPipeline

BACKENDS = ("rules", "smollm2", "local")
SHIELD_MODES = ("reject", "clamp")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class PlannerSettings:
    backend: str = "smollm2"
    model_path: str = ""
    device: str = "auto"
    dtype: str = "auto"
    threads: int = 0
    examples_file: str = "planner_examples.yaml"
    examples: int = 6
    max_new_tokens: int = 192
    shield_mode: str = "reject"
    cache_size: int = 256
    step_timeout_margin_s: float = 5.0
    agent_timeout_s: float = 2.0

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        return {
            "backend": f"planner backend: {' | '.join(BACKENDS)}",
            "model_path": "transformers causal-LM directory (backend 'local')",
            "device": "auto | cpu | cuda",
            "dtype": f"model precision: {' | '.join(DTYPES)} (auto: bf16 where the CPU has it)",
            "threads": "CPU threads for the model (0: automatic; the node leaves one CPU free)",
            "examples_file": "few-shot example bank (absolute, or under share/config)",
            "examples": "examples retrieved into each prompt",
            "max_new_tokens": "longest plan the model may write (tokens)",
            "shield_mode": "out-of-limit targets: reject | clamp",
            "cache_size": "plans kept for repeated instructions (0: no cache)",
            "step_timeout_margin_s": "a step fails this long after its longest motion (s)",
            "agent_timeout_s": "an agent silent this long is treated as failed (s)",
        }


def planner_settings_from_params(params: Mapping[str, Any]) -> PlannerSettings:
    settings = P.typed(PlannerSettings, params)
    if settings.backend not in BACKENDS:
        known = ", ".join(BACKENDS)
        raise ConfigError(f"backend must be one of {known}, got {settings.backend!r}")
    if settings.shield_mode not in SHIELD_MODES:
        raise ConfigError(f"shield_mode must be reject or clamp, got {settings.shield_mode!r}")
    if settings.dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {settings.dtype!r}")
    if settings.backend == "local" and not settings.model_path:
        raise ConfigError("backend 'local' needs model_path: a transformers model directory")
    if settings.examples < 0 or settings.max_new_tokens < 16 or settings.threads < 0:
        raise ConfigError("examples >= 0, max_new_tokens >= 16 and threads >= 0 are required")
    return settings


def build_pipeline(robot: RobotModel, settings: PlannerSettings) -> PlanningPipeline:
    """The pipeline with its backend loaded and warmed up (a language model takes seconds to
    load; the first SmolLM2 start converts its GGUF once, ~30 s, and says so)."""
    backend = None
    if settings.backend != "rules":
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
        if backend is not None:
            warm_up(backend)
    return PlanningPipeline(
        robot, backend, clamp=settings.shield_mode == "clamp", cache_size=settings.cache_size
    )
