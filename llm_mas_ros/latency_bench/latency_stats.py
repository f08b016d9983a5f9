"""Statistics of the bench, without ROS: summaries in a named unit, CDFs, jitter, ratios and
how a cost grows with the number of agents. Inputs are seconds; every output names its unit."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}  # seconds -> unit
# Percentiles kept per measurement window: enough to redraw its CDF from the JSON alone.
CDF_PERCENTILES = tuple(range(101))


def rate_key(rate_hz: float) -> str:
    """How a rate (Hz) names its entry in the JSON: '100', '500', '12.5'."""
    return f"{rate_hz:g}"


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    finite: np.ndarray = array[np.isfinite(array)]
    return finite


def summary(values_s: Sequence[float] | np.ndarray, unit: str) -> dict[str, float | int | None]:
    """count, p50, p90, p99, max and mean of `values_s` (s) in `unit` ('s', 'ms', 'us');
    NaN values (lost samples) are left out; the statistics are None without any value."""
    scale = UNITS[unit]
    values = _finite(values_s) * scale
    if values.size == 0:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "count": int(values.size),
        "p50": _round(p50),
        "p90": _round(p90),
        "p99": _round(p99),
        "max": _round(values.max()),
        "mean": _round(values.mean()),
    }


def cdf(values_s: Sequence[float] | np.ndarray, unit: str) -> list[float]:
    """The percentiles CDF_PERCENTILES of `values_s` (s) in `unit`; [] without any value."""
    values = _finite(values_s) * UNITS[unit]
    if values.size == 0:
        return []
    return [_round(v) for v in np.percentile(values, CDF_PERCENTILES)]


def jitter(act_s: Sequence[float] | np.ndarray, period_s: float) -> np.ndarray:
    """|interval between consecutive acts - period| (s): how unevenly the commands of a
    fixed-rate state stream come out. `act_s` holds NaN for a lost sample; an interval is
    only taken between two completed neighbours."""
    acts = np.asarray(act_s, dtype=float)
    intervals = np.diff(acts)
    return np.abs(intervals[np.isfinite(intervals)] - period_s)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator to 3 decimals, None when either is missing or the divisor 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 3)


def cpu_share(cpu_s: float, wall_s: float, agents: int) -> float:
    """Percent of one core per agent: CPU time (s) over wall time (s), shared by `agents`."""
    return _round(100.0 * cpu_s / wall_s / agents)


def growth(counts: Sequence[int], costs: Sequence[float]) -> dict[str, object]:
    """How `costs` grow with `counts` (agents) against linear growth from the first point:
    each cost relative to the first, the linear ratio n/n0, and the slope of log(cost) over
    log(n) (1: linear, below: sublinear). `no_worse_than_linear` holds when no point grows
    faster than linear."""
    if len(counts) != len(costs) or len(counts) < 2 or costs[0] <= 0:
        raise ValueError("growth needs two or more (count, positive cost) points")
    relative = [round(cost / costs[0], 3) for cost in costs]
    linear = [round(count / counts[0], 3) for count in counts]
    slope = float(np.polyfit(np.log(counts), np.log(costs), 1)[0])
    return {
        "relative": relative,
        "linear": linear,
        "loglog_slope": round(slope, 3),
        "no_worse_than_linear": all(r <= n for r, n in zip(relative, linear, strict=True)),
    }


def _round(value: float) -> float:
    """Three significant decimals past the unit: these are measurements, not exact values."""
    return round(float(value), 3) if math.isfinite(value) else float("nan")
