"""The planner benchmark's command line: the dev set through each planner backend behind
`PlanningPipeline`, scored, summarised, and written as planner.json and planner.md.

    python benchmarks/planner_bench.py --backends rules,smollm2,smollm2-plain \\
        --out benchmarks/results
    python benchmarks/planner_bench.py --backends local --model-path DIR --out /tmp/bench

Reported per backend: accuracy (fully right / every target within 0.02 rad or 2 mm / step
structure right), fully right over the items the backend itself planned (the stop and
agent-language fast paths never reach a model), parse rate, rejection correctness (over all
items) and rejection precision / recall (over the items that expect a rejection and the items the
shield rejected a goal of), dispatched targets outside the URDF limits (must be 0: the benchmark
fails otherwise), latency (first step, total; p50/p90, over all items and over the items the
backend itself planned), tokens the model generated and model calls per model-planned item, and
accuracy per category of issue 10 (llm_mas_ros.eval.devset.CATEGORIES: relative, vague,
expression, refusal, question, wait-back, clause-numbers, duration) and per tag. Run it once per
set: the dev set (default) and `--devset benchmarks/planner_heldout.jsonl`. The run's software
versions, model dtypes, CPU, threads, git commit and command line go into the JSON `meta` and the
markdown header. A 'local' backend's row is named after its model directory ('local:<dir
name>'). The dev set's schema is in llm_mas_ros.eval.devset, the scores in
llm_mas_ros.eval.scoring.

The dev set, the results and the script live in benchmarks/ of the source checkout, not in the
package: the defaults point there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llm_mas_ros.core.errors import LlmMasError
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.eval.devset import DevItem, load_devset
from llm_mas_ros.eval.probes import cache_hit_latency, decode_step_ms, retrieval_latency
from llm_mas_ros.eval.provenance import (
    command_line,
    cpu_info,
    git_state,
    machine,
    model_info,
    software_versions,
)
from llm_mas_ros.eval.roster import PLAIN_SUFFIX, make_backend, row_name
from llm_mas_ros.eval.runs import run_backend
from llm_mas_ros.eval.summary import item_records, summarise
from llm_mas_ros.eval.tables import markdown

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"  # <checkout>/llm_mas_ros/eval
SCRIPT = BENCHMARKS / "planner_bench.py"
DEVSET = BENCHMARKS / "planner_devset.jsonl"
RESULTS = BENCHMARKS / "results"
DESCRIPTION = (
    "Planner benchmark: the dev set through each planner backend behind `PlanningPipeline`."
)


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options; the defaults read and write benchmarks/ of the checkout."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument(
        "--backends",
        default="rules",
        help="comma-separated backend names, e.g. rules,smollm2,smollm2-plain",
    )
    parser.add_argument("--devset", default=str(DEVSET), help="dev set JSONL file")
    parser.add_argument(
        "--out", default=str(RESULTS), help="folder for planner.json and planner.md"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N items (0: all)")
    parser.add_argument("--tags", default="", help="only items with one of these tags (comma)")
    parser.add_argument("--model-path", default="", help="model directory of backend 'local'")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument(
        "--k",
        type=int,
        default=6,
        help="examples retrieved into each prompt (config/planner.yaml: examples)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-item progress lines")
    return parser


def select_items(items: Sequence[DevItem], tags: str = "", limit: int = 0) -> list[DevItem]:
    """The items with one of the comma-separated `tags` (every item when empty), then only the
    first `limit` of them (all when 0 or less)."""
    chosen = list(items)
    if tags:
        wanted = set(tags.split(","))
        chosen = [item for item in chosen if wanted & set(item.tags)]
    if limit > 0:
        chosen = chosen[:limit]
    return chosen


def write_report(
    out: Path,
    meta: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    records: Mapping[str, list[dict[str, Any]]],
) -> str:
    """planner.json (meta, per-backend summaries, per-item records) and planner.md into `out`
    (created if missing); returns the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "planner.json").write_text(
        json.dumps({"meta": meta, "backends": summaries, "items": records}, indent=1) + "\n"
    )
    table = markdown(summaries, records, meta)
    (out / "planner.md").write_text(table)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark as `argv` (default: sys.argv[1:]) says, write its report to --out and
    print the table. Exit status: 0 when done, 1 when a target outside the URDF limits was
    dispatched (the acceptance criterion), 2 when a backend cannot be loaded."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    robot = load_robot()
    items = select_items(load_devset(args.devset, robot), args.tags, args.limit)
    names = [name.strip() for name in args.backends.split(",") if name.strip()]
    retriever = None
    meta: dict[str, Any] = {
        "devset": os.path.relpath(args.devset),
        "n": len(items),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(SCRIPT, arguments),
        "git": git_state(BENCHMARKS),
        "versions": software_versions(),
        "cpu": cpu_info(),
    }
    runs = []
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    for name in names:
        if name != "rules" and retriever is None:
            from llm_mas_ros.core.planning.llm.retrieval import EmbeddingRetriever

            retriever = EmbeddingRetriever.from_file()
            meta["retrieval"] = retrieval_latency(retriever, items, args.k)
        started = time.perf_counter()
        try:
            backend = make_backend(name, robot, retriever, args.model_path, args.device, args.k)
        except (LlmMasError, ImportError) as error:
            print(f"error: cannot load backend {name!r}: {error}", file=sys.stderr)
            return 2
        label = row_name(name, args.model_path)
        load_s = time.perf_counter() - started
        runs.append(run_backend(label, backend, robot, items, load_s, progress))
        if (model := model_info(backend)) is not None:
            meta.setdefault("models", {})[label] = model
        if backend is not None and not name.endswith(PLAIN_SUFFIX):
            meta.setdefault("cache_hit_first_step_ms", {})[label] = cache_hit_latency(
                backend, robot, items
            )
            meta.setdefault("decode_step_ms", {})[label] = decode_step_ms(backend)
    meta["machine"] = machine()
    if "torch" in sys.modules:  # as the models ran (core.llm.runtime.configure_threads)
        meta["torch_threads"] = sys.modules["torch"].get_num_threads()
    summaries = [summarise(run) for run in runs]
    records = {run.name: item_records(run) for run in runs}
    print(write_report(Path(args.out), meta, summaries, records))
    violations = {s["backend"]: s["limit_violations"] for s in summaries if s["limit_violations"]}
    if violations:  # acceptance: no target outside the URDF limits is ever dispatched
        print(f"FAIL: targets outside URDF limits were dispatched: {violations}", file=sys.stderr)
        return 1
    return 0
