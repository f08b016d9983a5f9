"""Latency probes beside the benchmark run, so runs made at different times or on different
machines can be compared: plan-cache hits, one model decode step, and example retrieval. All
times in ms.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from llm_mas_ros.core.errors import LlmMasError
from llm_mas_ros.core.planning.pipeline import Planner, PlanningPipeline
from llm_mas_ros.core.robot.model import RobotModel
from llm_mas_ros.eval.devset import DevItem
from llm_mas_ros.eval.runs import start_positions
from llm_mas_ros.eval.summary import percentiles


def cache_hit_latency(
    backend: Planner | None, robot: RobotModel, items: Sequence[DevItem]
) -> dict[str, float | None]:
    """First-step latency (ms) of a repeated instruction: planned once, then answered by the
    plan cache (the shield still re-checks it from the current positions)."""
    pipeline = PlanningPipeline(robot, backend=backend, clamp=False)
    hits = []
    for item in items:
        positions = start_positions(robot, item)
        try:
            pipeline.plan(item.instruction, positions)
            plan = pipeline.plan(item.instruction, positions)
        except LlmMasError:
            continue
        if plan.planner.startswith("cache:"):
            hits.append(plan.first_step_ms)
    return percentiles(hits)


def decode_step_ms(backend: Any, steps: int = 20) -> float | None:
    """Median time (ms) of one single-token model call after a 500-token prompt: how fast this
    machine runs the model right now, so runs made at different times can be compared."""
    decoder = getattr(backend, "decoder", None)
    if decoder is None:
        return None
    cache = decoder._new_cache()
    decoder._forward(cache, [11] * 500)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        decoder._forward(cache, [11])
        times.append((time.perf_counter() - started) * 1000.0)
    return round(float(np.median(times)), 2)


def retrieval_latency(retriever: Any, items: Sequence[DevItem], k: int) -> dict[str, Any]:
    """Per-instruction retrieval cost over the dev set: encoder call and whole top-k (ms)."""
    embed, whole = [], []
    for item in items:
        started = time.perf_counter()
        retriever.top_k(item.instruction, k)
        whole.append((time.perf_counter() - started) * 1000.0)
        embed.append(retriever.last_embed_ms)
    return {
        "retriever": type(retriever).__name__,
        "k": k,
        "bank_size": len(retriever.examples),
        "embed_ms": percentiles(embed),
        "top_k_ms": percentiles(whole),
    }
