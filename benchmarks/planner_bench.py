#!/usr/bin/env python3
"""Planner benchmark: the dev set through each planner backend behind `PlanningPipeline`.

    python benchmarks/planner_bench.py --backends rules,smollm2,smollm2-plain \\
        --out benchmarks/results
    python benchmarks/planner_bench.py --backends rules,smollm2 \\
        --devset benchmarks/planner_heldout.jsonl --out benchmarks/results/heldout
    python benchmarks/planner_bench.py --backends local --model-path DIR --out /tmp/bench

A thin entry point: the options, the run and the report are llm_mas_ros.eval.bench_cli; the
dev-set schema is llm_mas_ros.eval.devset, the scores llm_mas_ros.eval.scoring. Writes
planner.json and planner.md to --out (default benchmarks/results) and prints the table, with
accuracy per category of issue 10 and per tag; exits 1 when a dispatched target lies outside the
URDF limits.
"""

from __future__ import annotations

import sys

from llm_mas_ros.eval.bench_cli import main

if __name__ == "__main__":
    sys.exit(main())
