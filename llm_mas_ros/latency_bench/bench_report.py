"""The bench's result as one JSON object, its ratios and acceptance checks, and the markdown
report. No ROS: a pure function of the sections' results, unit tested.

Latencies are us (sense->act, jitter), ms (instructions) or s (starts), as each key names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import latency_stats as L

SCHEMA = "llm_mas_ros.latency_bench/1"
SYSTEMS = (  # sense_act keys
    "tuned",
    "tuned_classical",
    "tuned_moving",
    "tuned_classical_moving",
    "naive",
    "echo",
    "echo_all",
    "waitset",
)
REQUIRED = ("naive", "echo", "echo_all", "waitset")  # what tuned is compared with at every rate
# echo_all answers a state with as many messages as the agents send: the floor of a sense->act
# that ends at the LAST agent's command (echo's one message is the floor of a single reply).
FLOORS = ("echo", "echo_all", "waitset")
SECTIONS = ("systems", "sense_act", "starts", "scaling", "while_decoding", "instructions")
# The acceptance checks, at the headline rate with the reference arm: (check, limit).
LIMITS = {
    "tuned/naive sense->act p50": 0.35,
    "tuned/naive sense->act p99": 0.5,
    "tuned/echo_all sense->act p50": 1.5,
    "tuned/naive CPU per agent": 0.5,
    "tuned start->ready p95 (s)": 2.0,
    "CPU per state, 7->56 agents, relative to linear": 1.0,
    "sense->act p99 while decoding / at rest": 2.0,
    # the policies issue's: the learned agents' sense->act against the classical ones'
    "learned/classical sense->act p50, holding": 1.2,
    "learned/classical sense->act p50, joints moving": 1.2,
}


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def _stat(entry: Mapping[str, Any] | None, key: str) -> float | None:
    return None if entry is None else entry["latency_us"][key]


def ratios(sense_act: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per rate: tuned over naive (p50, p99, CPU per agent) and over each floor (p50, p99)."""
    result = {}
    for rate, tuned in sense_act.get("tuned", {}).items():
        naive = sense_act.get("naive", {}).get(rate)
        row = {
            "tuned/naive p50": L.ratio(_stat(tuned, "p50"), _stat(naive, "p50")),
            "tuned/naive p99": L.ratio(_stat(tuned, "p99"), _stat(naive, "p99")),
            "tuned/naive cpu_per_agent": L.ratio(
                tuned["cpu_per_agent_pct"], naive["cpu_per_agent_pct"] if naive else None
            ),
        }
        for floor in FLOORS:
            entry = sense_act.get(floor, {}).get(rate)
            for stat in ("p50", "p99"):
                row[f"tuned/{floor} {stat}"] = L.ratio(_stat(tuned, stat), _stat(entry, stat))
        result[rate] = row
    return result


def _linear_excess(result: Mapping[str, Any]) -> float | None:
    """The CPU per state at the most agents relative to linear growth from the fewest (<= 1:
    no worse than linear)."""
    growth = result["scaling"].get("growth", {}).get("cpu_per_state")
    if not growth:
        return None
    return L.ratio(growth["relative"][-1], growth["linear"][-1])


def _getters(headline: str) -> dict[str, Callable[[Mapping[str, Any]], float | None]]:
    def ratio(key: str) -> Callable[[Mapping[str, Any]], float | None]:
        return lambda result: result["ratios"].get(headline, {}).get(key)

    return {
        "tuned/naive sense->act p50": ratio("tuned/naive p50"),
        "tuned/naive sense->act p99": ratio("tuned/naive p99"),
        "tuned/echo_all sense->act p50": ratio("tuned/echo_all p50"),
        "tuned/naive CPU per agent": ratio("tuned/naive cpu_per_agent"),
        "tuned start->ready p95 (s)": lambda r: r["starts"]["tuned"]["ready_s"].get("p95"),
        "CPU per state, 7->56 agents, relative to linear": _linear_excess,
        "sense->act p99 while decoding / at rest": lambda r: r["while_decoding"][
            "p99_loaded_over_rest"
        ],
        "learned/classical sense->act p50, holding": _over("tuned", "tuned_classical", headline),
        "learned/classical sense->act p50, joints moving": _over(
            "tuned_moving", "tuned_classical_moving", headline
        ),
    }


def _over(system: str, other: str, rate: str) -> Callable[[Mapping[str, Any]], float | None]:
    """p50 sense->act of `system` over `other` at `rate`."""

    def get(result: Mapping[str, Any]) -> float | None:
        sense_act = result["sense_act"]
        return L.ratio(
            _stat(sense_act.get(system, {}).get(rate), "p50"),
            _stat(sense_act.get(other, {}).get(rate), "p50"),
        )

    return get


def acceptance(result: Mapping[str, Any], headline: str) -> list[dict[str, Any]]:
    """Each check of LIMITS: its value in `result`, the limit, ok (None: not measured)."""
    checks = []
    for name, get in _getters(headline).items():
        value = get(result)
        limit = LIMITS[name]
        checks.append(
            {
                "check": name,
                "value": value,
                "limit": limit,
                "ok": None if value is None else value <= limit,
            }
        )
    return checks


def assemble(
    meta: Mapping[str, Any], settings: Mapping[str, Any], sections: Mapping[str, Any]
) -> dict[str, Any]:
    """The whole result: meta, settings, the sections, the ratios and the acceptance checks,
    with no NaN left (None instead)."""
    result: dict[str, Any] = {"schema": SCHEMA, "meta": dict(meta), "settings": dict(settings)}
    result.update(sections)
    result["ratios"] = ratios(result["sense_act"])
    headline = L.rate_key(max(settings["rates_hz"]))
    result["acceptance"] = acceptance(result, headline)
    return finite(result)  # type: ignore[no-any-return]


def problems(result: Mapping[str, Any]) -> list[str]:
    """What a result lacks that a reader of the JSON relies on ([] when nothing)."""
    found = [
        f"missing {key}" for key in ("schema", "meta", "settings", *SECTIONS) if key not in result
    ]
    if found:
        return found
    for rate in map(L.rate_key, result["settings"]["rates_hz"]):
        for system in ("tuned", *REQUIRED):
            entry = result["sense_act"].get(system, {}).get(rate)
            if (
                entry is None
                or not _number(_stat(entry, "p50"))
                or not _number(_stat(entry, "p99"))
            ):
                found.append(f"no sense->act p50/p99 of {system} at {rate} Hz")
    counts = [point["agents"] for point in result["scaling"]["points"]]
    if counts != list(result["settings"]["scaling_agents"]):
        found.append(f"scaling measured {counts}, not {result['settings']['scaling_agents']}")
    found += [
        f"scaling at {p['agents']} agents has no p50"
        for p in result["scaling"]["points"]
        if not _number(p["latency_us"]["p50"])
    ]
    return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


# -- markdown ---------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A markdown table; None cells print as '-', floats with 3 significant digits."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def markdown(result: Mapping[str, Any]) -> str:
    """The report: how it ran, then one table per section, then the acceptance checks."""
    lines = _header(result)
    for part in (_sense_act, _ratios, _starts, _scaling, _decoding, _instructions, _accepted):
        lines += ["", *part(result)]
    return "\n".join(lines) + "\n"


def _header(result: Mapping[str, Any]) -> list[str]:
    meta = result["meta"]
    git = meta.get("git", {})
    commit = f"{git.get('commit')}{' (working tree changed)' if git.get('dirty') else ''}"
    return [
        "# llm-mas-ros bench: the control path, side by side",
        "",
        f"`{meta.get('command')}` — {meta.get('wall_s')} s, {meta.get('ended_at')}",
        f"Machine: {meta.get('machine')}; CPU: {meta.get('cpu')}; commit {commit}.",
        f"Software: {', '.join(f'{k} {v}' for k, v in meta.get('software', {}).items())}.",
        *(f"Note: {note}" for note in result.get("notes", [])),
    ]


def _sense_act(result: Mapping[str, Any]) -> list[str]:
    rows = []
    for system, by_rate in result["sense_act"].items():
        for rate, entry in by_rate.items():
            latency, jitter = entry["latency_us"], entry["jitter_us"]
            rows.append(
                [
                    system,
                    rate,
                    latency["p50"],
                    latency["p99"],
                    latency["max"],
                    jitter["p50"],
                    jitter["p99"],
                    entry["cpu_per_agent_pct"],
                    entry["states"],
                    entry["lost"],
                ]
            )
    labels = [f"- **{key}**: {value['label']}" for key, value in result["systems"].items()]
    return [
        "## Sense -> act",
        "",
        "One /joint_states published -> the last agent's command received (us); jitter: "
        "|interval between consecutive acts - period| (us); CPU: % of one core per agent.",
        "",
        *labels,
        "",
        *table(
            [
                "system",
                "Hz",
                "p50",
                "p99",
                "max",
                "jitter p50",
                "jitter p99",
                "CPU/agent %",
                "states",
                "lost",
            ],
            rows,
        ),
    ]


def _ratios(result: Mapping[str, Any]) -> list[str]:
    keys = [
        "tuned/naive p50", "tuned/naive p99", "tuned/naive cpu_per_agent",
        "tuned/echo p50", "tuned/echo p99", "tuned/echo_all p50", "tuned/echo_all p99",
        "tuned/waitset p50", "tuned/waitset p99",
    ]  # fmt: skip
    rows = [[rate, *(row.get(key) for key in keys)] for rate, row in result["ratios"].items()]
    return ["## Ratios (below 1: tuned is faster)", "", *table(["Hz", *keys], rows)]


def _starts(result: Mapping[str, Any]) -> list[str]:
    rows = []
    for build, entry in result["starts"].items():
        if "not_measured" in entry:
            rows.append([build, 0, None, None, None, None])
            continue
        ready, first = entry["ready_s"], entry["first_answer_s"]
        rows.append(
            [build, entry["starts"], ready["p50"], ready["p95"], ready["max"], first["p50"]]
        )
    return [
        "## Process start -> ready (s)",
        "",
        "Ready: its publishers and subscriptions matched the prober's; first answer: the first "
        "state answered by every agent.",
        "",
        *table(
            ["build", "starts", "ready p50", "ready p95", "ready max", "first answer p50"], rows
        ),
    ]


def _scaling(result: Mapping[str, Any]) -> list[str]:
    scaling = result["scaling"]
    rows = [
        [p["agents"], p["latency_us"]["p50"], p["latency_us"]["p99"], p["cpu_per_state_us"],
         p["cpu_per_agent_pct"], p["start_to_ready_s"], p["lost"]]
        for p in scaling["points"]
    ]  # fmt: skip
    lines = [
        f"## Scaling: the tuned agents process, copies of the arm, {scaling['rate_hz']:g} Hz",
        "",
        *table(
            [
                "agents",
                "p50 us",
                "p99 us",
                "CPU/state us",
                "CPU/agent %",
                "start->ready s",
                "lost",
            ],
            rows,
        ),
    ]
    for name, growth in scaling.get("growth", {}).items():
        lines.append(
            f"\n{name}: relative {growth['relative']} vs linear {growth['linear']}, log-log slope "
            f"{growth['loglog_slope']} (1 = linear)"
        )
    return lines


def _decoding(result: Mapping[str, Any]) -> list[str]:
    decoding = result["while_decoding"]
    rows = [
        [name, entry["latency_us"]["p50"], entry["latency_us"]["p99"], entry["latency_us"]["max"],
         entry["load_cpu_pct"], entry["lost"]]
        for name, entry in (("at rest", decoding["at_rest"]), ("loaded", decoding["loaded"]))
    ]  # fmt: skip
    return [
        f"## Sense -> act while the planner decodes ({decoding['rate_hz']:g} Hz)",
        "",
        f"Load: {decoding['load']}; instructions sent: {decoding['instructions_sent']}; p99 "
        f"loaded / at rest: {_cell(decoding['p99_loaded_over_rest'])}.",
        "",
        *table(["", "p50 us", "p99 us", "max us", "load CPU %", "lost"], rows),
    ]


def _instructions(result: Mapping[str, Any]) -> list[str]:
    section = result["instructions"]
    rows = []
    for kind in ("fast_path", "model"):
        entry = section[kind]
        if "skipped" in entry:
            rows.append([kind, "-", "-", None, None, None, None, f"skipped: {entry['skipped']}"])
            continue
        planners = sorted({trial["planner"] for trial in entry["trials"]})
        first, done = entry["first_command_ms"], entry["done_ms"]
        rows.append(
            [kind, ", ".join(planners), f"{entry['ok']}/{entry['summarised']}", first["p50"],
             first["max"], done["p50"], done["max"], _left_out(entry)]
        )  # fmt: skip
    return [
        f"## Instruction -> first command, -> done (ms; planner {section['planner']})",
        "",
        *table(
            ["kind", "planned by", "ok", "first command p50", "max", "done p50", "max", ""], rows
        ),
    ]


def _left_out(entry: Mapping[str, Any]) -> str:
    left = len(entry["trials"]) - entry["summarised"]
    return f"{left} planned by another planner, left out" if left else ""


def _accepted(result: Mapping[str, Any]) -> list[str]:
    rows = [[c["check"], c["value"], c["limit"], c["ok"]] for c in result["acceptance"]]
    return ["## Acceptance (issue 12)", "", *table(["check", "value", "limit", "ok"], rows)]
