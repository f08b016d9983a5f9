"""Instruction -> first command and -> done, on the whole graph `llm-mas-ros up` starts (the
MuJoCo sim, the agents process, the planner), in the bench's domain, after the control
sections are down. The times are the planner's and agents' own stamps relative to the send
(ros.client.GraphClient's timings_ms, as `llm-mas-ros run --json` reports them).

Fast-path instructions are agent language (no model); model instructions are free-form
phrasings the embedded model plans, skipped with the reason when no model is available.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import LlmMasError
from ..core.robot.model import load_robot
from ..launcher.bringup import node_list
from ..launcher.processes import ProcessGroup
from ..ros.client import GraphClient
from . import latency_stats as L
from .bench_settings import FAST_PATH_INSTRUCTIONS, MODEL_INSTRUCTIONS, BenchSettings

INSTRUCTION_TIMEOUT_S = 60.0  # an instruction of the bench plans and moves well within this
TIMINGS = ("first_step", "first_command", "done")  # ms after the send (GraphClient)


def model_unavailable(planner: str) -> str | None:
    """Why model instructions cannot be measured with `planner` (None: they can)."""
    if planner == "rules":
        return "--planner rules plans without a model"
    if planner == "smollm2":
        from ..core.planning.llm.models import smollm2_gguf

        try:
            smollm2_gguf()
        except LlmMasError as error:
            return str(error)
    return None


def instructions(settings: BenchSettings, work: Path, model_reason: str | None) -> dict[str, Any]:
    """`trials` fast-path and `trials` model instructions in turn on one graph."""
    robot = load_robot()
    specs = node_list(sim="mujoco", planner_backend=settings.planner)
    with ProcessGroup(specs, log_dir=work / "logs" / "instructions") as group:
        client = GraphClient(robot, node_name="bench_instructions")
        try:
            client.wait_ready(settings.ready_timeout_s, group.first_death)
            fast = itertools.islice(itertools.cycle(FAST_PATH_INSTRUCTIONS), settings.trials)
            result: dict[str, Any] = {
                "planner": settings.planner,
                "fast_path": _kind(client, group, list(fast)),
            }
            if model_reason is None:
                texts = MODEL_INSTRUCTIONS[: settings.trials]
                result["model"] = _kind(client, group, texts, only=settings.planner)
            else:
                result["model"] = {"skipped": model_reason}
        finally:
            client.close()
    return result


def _kind(
    client: GraphClient, group: ProcessGroup, texts: Sequence[str], only: str | None = None
) -> dict[str, Any]:
    """The trials of `texts`, summarised over those the planner `only` took (all: None)."""
    trials = [_trial(client, group, text) for text in texts]
    return {"trials": trials, **summarise_trials(trials, only)}


def _trial(client: GraphClient, group: ProcessGroup, text: str) -> dict[str, Any]:
    outcome = client.execute(text, INSTRUCTION_TIMEOUT_S, alive=group.first_death).to_json()
    return {
        "instruction": text,
        "planner": outcome["planner"],  # which one took it: rules, a fast path, the model
        "state": outcome["state"],
        **{f"{key}_ms": outcome["timings_ms"][key] for key in TIMINGS},
    }


def summarise_trials(trials: Sequence[dict[str, Any]], only: str | None = None) -> dict[str, Any]:
    """p50/p99/... of each timing (ms) over the trials that have it (and that the planner
    `only` planned, when given), how many ended ok, and how many are summarised."""
    trials = [t for t in trials if only is None or t["planner"] == only]
    summary: dict[str, Any] = {
        f"{key}_ms": L.summary(
            [t[f"{key}_ms"] / 1e3 for t in trials if t[f"{key}_ms"] is not None], "ms"
        )
        for key in TIMINGS
    }
    summary["ok"] = sum(t["state"] in ("done", "stopped") for t in trials)
    summary["summarised"] = len(trials)
    return summary
