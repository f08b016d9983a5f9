"""Planner settings (config/planner.yaml) and building the planning pipeline from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from . import params as P
from .errors import ConfigError
from .planner import PlanningPipeline
from .robot import RobotModel

BACKENDS = ("rules", "smollm2", "local")
SHIELD_MODES = ("reject", "clamp")


@dataclass(frozen=True)
class PlannerSettings:
    backend: str = "rules"
    model_path: str = ""
    device: str = "auto"
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
            "shield_mode": "out-of-limit targets: reject | clamp",
            "cache_size": "plans kept for repeated instructions (0: no cache)",
            "step_timeout_margin_s": "a step fails this long after its longest motion (s)",
            "agent_timeout_s": "an agent silent this long is treated as failed (s)",
        }


def planner_settings_from_params(params: Mapping[str, Any]) -> PlannerSettings:
    defaults = PlannerSettings()
    values = {
        f.name: P.optional(
            params, f.name, type(getattr(defaults, f.name)), getattr(defaults, f.name)
        )
        for f in fields(PlannerSettings)
    }
    settings = PlannerSettings(**values)
    if settings.backend not in BACKENDS:
        raise ConfigError(
            f"backend must be one of {', '.join(BACKENDS)}, got {settings.backend!r}"
        )
    if settings.shield_mode not in SHIELD_MODES:
        raise ConfigError(f"shield_mode must be reject or clamp, got {settings.shield_mode!r}")
    if settings.backend == "local" and not settings.model_path:
        raise ConfigError("backend 'local' needs model_path: a transformers model directory")
    return settings


def build_pipeline(robot: RobotModel, settings: PlannerSettings) -> PlanningPipeline:
    """The pipeline with its backend loaded (a language model can take seconds to load)."""
    backend = None
    if settings.backend != "rules":
        from .llm.backend import load_backend  # torch/transformers only when a model is used

        backend = load_backend(
            settings.backend, robot, model_path=settings.model_path, device=settings.device
        )
    return PlanningPipeline(
        robot, backend, clamp=settings.shield_mode == "clamp", cache_size=settings.cache_size
    )
