"""Per-backend metrics and per-item records: the JSON report of a benchmark run.

Rates are in [0, 1] (rounded to 4 decimals), times in ms (p50 / p90, rounded to 3 decimals),
token counts per model-planned item. 'Model' metrics count only the items the backend itself
planned: the stop and agent-language fast paths never reach a model, and mixing them in would
flatter a slow or wrong model. Rejection precision = right predictions / items the shield
rejected a goal of; recall = right predictions / items that expect a rejection (a prediction is
right when the item expects one). `by_category` is `by_tag` for the categories of
llm_mas_ros.eval.devset.CATEGORIES only, each listed (n 0 when the set has none of it), in that
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from llm_mas_ros.eval.devset import CATEGORIES
from llm_mas_ros.eval.runs import BackendRun


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50 and p90 of `values` (their unit, rounded to 3 decimals) and how many there were; both
    None when there are none, so an empty column reads '-' rather than 0."""
    if not values:
        return {"p50": None, "p90": None, "n": 0}
    array = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(array, 50)), 3),
        "p90": round(float(np.percentile(array, 90)), 3),
        "n": len(values),
    }


def _rate(flags: Sequence[bool]) -> float:
    """The share of True flags in [0, 1]; 0.0 for no flags."""
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _share(count: int, total: int) -> float | None:
    """count / total in [0, 1]; None when total is 0 (nothing to measure)."""
    return round(count / total, 4) if total else None


def rejection_metrics(run: BackendRun) -> dict[str, Any]:
    """Rejection as a detection task: expected = the item expects a rejection; predicted = the
    shield rejected a goal of the plan. `exact` counts the expected ones rejected for the right
    agents and reason. Precision / recall are None when nothing was predicted / expected."""
    expected = predicted = hits = exact = 0
    for item, outcome, result in zip(run.items, run.outcomes, run.scores, strict=True):
        wanted, got = item.expect == "reject", bool(outcome.rejected)
        expected += wanted
        predicted += got
        hits += wanted and got
        exact += wanted and result.rejection
    return {
        "expected": expected,
        "predicted": predicted,
        "true_positive": hits,
        "exact": exact,
        "precision": _share(hits, predicted),
        "recall": _share(hits, expected),
    }


def _mean(values: Sequence[int | None]) -> float | None:
    """The mean of the known values; None when no value is known."""
    known = [v for v in values if v is not None]
    return round(float(np.mean(known)), 2) if known else None


def summarise(run: BackendRun) -> dict[str, Any]:
    """Metrics of one backend run (rates in [0, 1], times in ms)."""
    scores, outcomes = run.scores, run.outcomes
    model = [o for o in outcomes if o.used_backend]
    model_scores = [s for s, o in zip(scores, outcomes, strict=True) if o.used_backend]
    tags: dict[str, list[bool]] = {}
    for item, result in zip(run.items, scores, strict=True):
        for tag in item.tags:
            tags.setdefault(tag, []).append(result.full)
    return {
        "backend": run.name,
        "n": len(scores),
        "load_s": round(run.load_s, 3),
        "accuracy": {
            "full": _rate([s.full for s in scores]),
            "full_model": _rate([s.full for s in model_scores]) if model_scores else None,
            "targets": _rate([s.targets for s in scores]),
            "structure": _rate([s.structure for s in scores]),
            "outcome": _rate([s.outcome for s in scores]),
        },
        "parse_rate": _rate([s.parsed for s in scores]),
        "rejection_correct": _rate([s.rejection for s in scores]),
        "rejection": rejection_metrics(run),
        "limit_violations": sum(len(s.violations) for s in scores),
        "unrequested_agents": sum(1 for s in scores if s.unrequested),
        "latency_ms": {
            "first_step": percentiles(
                [o.first_step_ms for o in outcomes if o.first_step_ms is not None]
            ),
            "total": percentiles([o.total_ms for o in outcomes]),
            "model_first_step": percentiles(
                [o.first_step_ms for o in model if o.first_step_ms is not None]
            ),
            "model_total": percentiles([o.total_ms for o in model]),
        },
        "paths": {"fast_path": len(outcomes) - len(model), "backend": len(model)},
        "tokens": {  # per model-planned item
            "generated_mean": _mean([o.generated_tokens for o in model]),
            "model_calls_mean": _mean([o.model_calls for o in model]),
            "n": sum(o.model_calls is not None for o in model),
        },
        "by_tag": {
            tag: {"n": len(flags), "full": sum(flags)} for tag, flags in sorted(tags.items())
        },
        "by_category": {category: _category(tags.get(category, [])) for category in CATEGORIES},
    }


def _category(flags: Sequence[bool]) -> dict[str, Any]:
    """How many items of a category there are, how many are fully right, and the share."""
    return {"n": len(flags), "full": sum(flags), "rate": _share(sum(flags), len(flags))}


def item_records(run: BackendRun) -> list[dict[str, Any]]:
    """Per-item results: what was expected, what came out, and how it scored."""
    records = []
    for item, outcome, result in zip(run.items, run.outcomes, run.scores, strict=True):
        records.append(
            {
                "id": item.id,
                "instruction": item.instruction,
                "tags": list(item.tags),
                "expect": item.expect,
                "start": dict(item.start) or None,  # None: home, gripper closed
                "outcome": outcome.kind,
                "planner": outcome.planner,
                "answer": outcome.answer,
                "output": outcome.output,
                "full": result.full,
                "targets": result.targets,
                "structure": result.structure,
                "rejection": result.rejection,
                "mentions": result.mentions,
                "parsed": result.parsed,
                "used_backend": outcome.used_backend,
                "generated_tokens": outcome.generated_tokens,
                "model_calls": outcome.model_calls,
                "steps": [[goal.to_json() for goal in step] for step in outcome.steps],
                "rejected": [r.to_json() for r in outcome.rejected],
                "error": outcome.error,
                "violations": list(result.violations),
                "unrequested": list(result.unrequested),
                "first_step_ms": None
                if outcome.first_step_ms is None
                else round(outcome.first_step_ms, 3),
                "total_ms": round(outcome.total_ms, 3),
            }
        )
    return records
