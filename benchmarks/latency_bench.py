"""The control path's latency bench, as `llm-mas-ros bench` runs it (the tuned runtime, a naive
build and the floor side by side; llm_mas_ros/latency_bench). The committed results:

    .venv/bin/python benchmarks/latency_bench.py --out benchmarks/results/bench
"""

import sys

from llm_mas_ros.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))
