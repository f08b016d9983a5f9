"""The markdown report of a benchmark run: the results table, accuracy per category (the
categories of issue 10: relative, vague, expression, refusal, question, wait-back, clause-numbers,
duration) and per tag, the plain-vs-constrained decoding ratios and the items not fully right.

It renders the JSON summaries (llm_mas_ros.eval.summary) rather than the runs, so a report can be
rebuilt from a saved planner.json. Percentages with one decimal, latency in ms as p50 / p90,
load + warm-up in s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llm_mas_ros.eval.roster import PLAIN_SUFFIX


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100.0 * rate:.1f}%"


def _rejection_cell(r: Mapping[str, Any]) -> str:
    return (
        f"{_pct(r['precision'])} / {_pct(r['recall'])} "
        f"({r['true_positive']}/{r['predicted']}, {r['true_positive']}/{r['expected']})"
    )


def _tokens_cell(t: Mapping[str, Any]) -> str:
    if t["generated_mean"] is None:
        return "-"
    return f"{t['generated_mean']:.1f} / {t['model_calls_mean']:.1f}"


def _ms(stats: Mapping[str, Any]) -> str:
    if stats["p50"] is None:
        return "-"
    return f"{stats['p50']:.1f} / {stats['p90']:.1f}"


def markdown(
    summaries: Sequence[Mapping[str, Any]],
    records: Mapping[str, list[dict[str, Any]]],
    meta: Mapping[str, Any],
) -> str:
    """The results table, per-category and per-tag accuracy, plain-vs-constrained ratios and
    the misses."""
    lines = [
        "# Planner benchmark",
        "",
        f"Dev set: `{meta['devset']}` ({meta['n']} instructions, start: home, gripper closed, "
        "unless an item states its start). "
        f"Machine: {meta['machine']}. Latency in ms, p50 / p90; 'model' columns count only the "
        "instructions the backend itself planned (not the stop / agent-language fast paths). "
        "Unrequested agents: items whose plan sent a goal to an agent the item's expected steps "
        "never address. "
        "Rejection precision / recall: over the items the shield rejected a goal of / the "
        "items that expect a rejection. Tokens: generated / model calls per model-planned item "
        "(mean).",
        "",
        *_run_lines(meta),
        "",
        "| backend | fully right | fully right, model-planned | targets ≤ 0.02 rad / 2 mm "
        "| structure | parse rate | rejection correct (all items) | rejection precision / recall "
        "| limit violations | unrequested agents | first step | total | model first step "
        "| model total | model items "
        "| model tokens / calls | load + warm-up (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        accuracy, latency = s["accuracy"], s["latency_ms"]
        lines.append(
            f"| {s['backend']} | {_pct(accuracy['full'])} | {_pct(accuracy['full_model'])} "
            f"| {_pct(accuracy['targets'])} | {_pct(accuracy['structure'])} "
            f"| {_pct(s['parse_rate'])} | {_pct(s['rejection_correct'])} "
            f"| {_rejection_cell(s['rejection'])} | {s['limit_violations']} "
            f"| {s.get('unrequested_agents', 0)} "
            f"| {_ms(latency['first_step'])} | {_ms(latency['total'])} "
            f"| {_ms(latency['model_first_step'])} | {_ms(latency['model_total'])} "
            f"| {s['paths']['backend']} | {_tokens_cell(s['tokens'])} | {s['load_s']:.1f} |"
        )
    lines += _ratio_lines(summaries)
    for name, step_ms in meta.get("decode_step_ms", {}).items():
        lines += [
            "",
            f"Machine speed during the run: one {name} decode step (1 token after a "
            f"500-token prompt) took {step_ms} ms (p50).",
        ]
    for name, stats in meta.get("cache_hit_first_step_ms", {}).items():
        lines += [
            "",
            f"Cache hits ({name}, each model-planned instruction asked again): first "
            f"step {_ms(stats)} ms ({stats['n']} hits).",
        ]
    if meta.get("retrieval"):
        r = meta["retrieval"]
        lines += [
            "",
            f"Retrieval ({r['retriever']}, k={r['k']}): embedding "
            f"{_ms(r['embed_ms'])} ms, whole top-k {_ms(r['top_k_ms'])} ms per instruction "
            f"(bank: {r['bank_size']} examples).",
        ]
    lines += _category_lines(summaries)
    lines += ["", "## Fully right, per tag", ""]
    tags = sorted({tag for s in summaries for tag in s["by_tag"]})
    lines.append("| tag | n | " + " | ".join(s["backend"] for s in summaries) + " |")
    lines.append("|---|---|" + "---|" * len(summaries))
    for tag in tags:
        count = next(s["by_tag"][tag]["n"] for s in summaries if tag in s["by_tag"])
        cells = [
            f"{s['by_tag'][tag]['full']}/{count}" if tag in s["by_tag"] else "-" for s in summaries
        ]
        lines.append(f"| {tag} | {count} | " + " | ".join(cells) + " |")
    lines += ["", "## Not fully right", ""]
    for name, rows in records.items():
        misses = [r for r in rows if not r["full"]]
        lines.append(
            f"- **{name}** ({len(misses)}): "
            + (", ".join(f"`{r['id']}` ({r['outcome']})" for r in misses) or "none")
        )
    return "\n".join(lines) + "\n"


def _category_lines(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Fully right per category of issue 10 (each a tag; every category listed, '-' where the
    set has no item of it)."""
    if not summaries or "by_category" not in summaries[0]:
        return []  # a report rebuilt from a summary written before the categories existed
    lines = [
        "",
        "## Fully right, per category",
        "",
        "| category | n | " + " | ".join(s["backend"] for s in summaries) + " |",
        "|---|---|" + "---|" * len(summaries),
    ]
    for category, first in summaries[0]["by_category"].items():
        cells = []
        for s in summaries:
            c = s["by_category"][category]
            cells.append(f"{c['full']}/{c['n']} ({_pct(c['rate'])})" if c["n"] else "-")
        lines.append(f"| {category} | {first['n']} | " + " | ".join(cells) + " |")
    return lines


def _run_lines(meta: Mapping[str, Any]) -> list[str]:
    """What a rerun must match to be comparable: command, commit, software, CPU, models."""
    git, cpu = meta.get("git", {}), meta.get("cpu", {})
    dirty = f", dirty: {git['changed_files']} files changed" if git.get("dirty") else ""
    versions = ", ".join(f"{name} {v}" for name, v in meta.get("versions", {}).items() if v)
    flags = ", ".join(f"{f} {'yes' if on else 'no'}" for f, on in cpu.get("flags", {}).items())
    models = "; ".join(
        f"{name}: {m['dtype']} on {m['device']} ({m['source']})"
        for name, m in meta.get("models", {}).items()
    )
    return [
        f"Run {meta.get('date', '?')} at commit `{git.get('commit', '?')}`{dirty}: "
        f"`{meta.get('command', '?')}`.",
        "",
        f"Software: {versions}. CPU: {cpu.get('model', '?')} ({flags}); torch threads "
        f"{meta.get('torch_threads', '-')}." + (f" Models: {models}." if models else ""),
    ]


def _ratio_lines(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plain generate() vs the constrained streaming decoder, for each pair that ran."""
    by_name = {s["backend"]: s for s in summaries}
    lines = []
    for name, plain in by_name.items():
        base = by_name.get(name.removesuffix(PLAIN_SUFFIX))
        if not name.endswith(PLAIN_SUFFIX) or base is None:
            continue
        for key, label in (("model_first_step", "first step"), ("model_total", "total")):
            fast, slow = base["latency_ms"][key]["p50"], plain["latency_ms"][key]["p50"]
            if fast and slow:
                lines.append(
                    f"- {label} p50: {base['backend']} {fast:.1f} ms vs "
                    f"{name} {slow:.1f} ms: plain / constrained = {slow / fast:.2f}x"
                )
        if base["tokens"]["generated_mean"] is not None:
            lines.append(
                f"- per model-planned instruction (mean): {base['backend']} "
                f"{_tokens_cell(base['tokens'])} vs {name} {_tokens_cell(plain['tokens'])} "
                "tokens generated / model calls (both stop at the end of the plan)"
            )
    if not lines:
        return []
    return ["", "Plain `generate()` vs constrained streaming decoding:", "", *lines]
