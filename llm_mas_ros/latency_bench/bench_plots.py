"""The bench's PNG plots, drawn from the result JSON alone (the CDF percentiles it keeps):
sense->act CDFs per rate (and at rest / while decoding), and the scaling curve. matplotlib
(Agg: no display) is imported on use."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .latency_stats import CDF_PERCENTILES

CDF_FILE = "latency_cdf.png"
SCALING_FILE = "scaling.png"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _cdf(axis: Any, label: str, entry: Mapping[str, Any]) -> None:
    values = entry.get("latency_cdf_us") or []
    if values:
        axis.plot(values, CDF_PERCENTILES[: len(values)], label=label)


def latency_cdfs(result: Mapping[str, Any], path: Path) -> Path:
    """One panel per rate (every system), and one for sense->act at rest vs while decoding."""
    plt = _pyplot()
    rates = [str(rate) for rate in result["ratios"]]
    figure, axes = plt.subplots(1, len(rates) + 1, figsize=(4.2 * (len(rates) + 1), 3.8))
    for axis, rate in zip(axes, rates, strict=False):
        for system, by_rate in result["sense_act"].items():
            if rate in by_rate:
                _cdf(axis, system, by_rate[rate])
        axis.set_title(f"sense->act at {rate} Hz")
    decoding = result["while_decoding"]
    _cdf(axes[-1], "at rest", decoding["at_rest"])
    _cdf(axes[-1], "while decoding", decoding["loaded"])
    axes[-1].set_title(f"tuned at {decoding['rate_hz']:g} Hz, planner decoding")
    for axis in axes:
        axis.set_xscale("log")
        axis.set_xlabel("latency (us)")
        axis.set_ylabel("percentile")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small")
    return _save(plt, figure, path)


def scaling_curve(result: Mapping[str, Any], path: Path) -> Path:
    """Sense->act p50/p99 and the CPU per state against the number of agents, with the
    linear growth from the fewest agents for reference."""
    plt = _pyplot()
    points = result["scaling"]["points"]
    agents = [point["agents"] for point in points]
    figure, (latency, cpu) = plt.subplots(1, 2, figsize=(9, 3.8))
    for stat in ("p50", "p99"):
        latency.plot(agents, [p["latency_us"][stat] for p in points], "o-", label=stat)
    cost = [point["cpu_per_state_us"] for point in points]
    cpu.plot(agents, cost, "o-", label="measured")
    if cost and cost[0]:
        cpu.plot(agents, [cost[0] * n / agents[0] for n in agents], "--", label="linear")
    latency.set_ylabel("sense->act (us)")
    cpu.set_ylabel("CPU per state (us)")
    for axis in (latency, cpu):
        axis.set_xlabel("agents")
        axis.set_xticks(agents)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(f"tuned agents process at {result['scaling']['rate_hz']:g} Hz")
    return _save(plt, figure, path)


def _save(plt: Any, figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
