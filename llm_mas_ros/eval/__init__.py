"""Evaluation of the planner: what the dev set says, how an outcome is scored, how a backend is
run over the set, and how the results are summarised and reported.

Pure Python over `llm_mas_ros.core` (no rclpy), so the benchmark scripts in benchmarks/ stay thin
and the tests import it like any other module. One module per concern:

  devset      the dev-set schema: GoalSpec, DevItem, parse_item, load_devset
  scoring     Outcome and Score of one item, and the URDF limit check
  runs        one backend over the items, through the real PlanningPipeline
  summary     per-backend metrics and per-item records (the JSON report)
  tables      the markdown report
  provenance  what a rerun must match: software, CPU, git commit, command line
  roster      backends by name, and the names of their rows
  probes      latency probes beside the run: cache hits, a decode step, retrieval
  bench_cli   the planner benchmark's command line (benchmarks/planner_bench.py)
"""
