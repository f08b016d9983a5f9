"""Soak a running graph: many consecutive instructions, every outcome accounted for, and the
node processes' resources watched (resident memory, open files, threads, /dev/shm segments).

Used by `benchmarks/soak_bench.py` (the full count) and a system test (a small count). The
processes are read from /proc, so they may be any of this host's (the graph's node processes).
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.planning.execution import FINISHED_EXECUTION_STATES
from .client import GraphClient

# A cycle of everyday instructions: moves, a pose, the gripper, a stop, and ones that must be
# refused or fail, so every outcome path is exercised.
SOAK_INSTRUCTIONS = (
    "wrist_2 to 10 degrees quickly",
    "open the gripper",
    "wrist_2 to 0 degrees quickly",
    "close the gripper",
    "elbow to 400 degrees",  # rejected by the shield
    "levitate the tentacle",  # cannot be planned (rules)
    "stop",
)


@dataclass(frozen=True)
class Resources:
    """One process's resources: resident memory (kB), open file descriptors, threads."""

    rss_kb: int
    fds: int
    threads: int


@dataclass
class SoakReport:
    count: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unaccounted: list[str] = field(default_factory=list)  # instructions with no final outcome
    before: dict[int, Resources] = field(default_factory=dict)  # after warm-up, by pid
    after: dict[int, Resources] = field(default_factory=dict)
    shm_before: int = 0
    shm_after: int = 0

    def rss_growth(self) -> float:
        """The largest relative growth of resident memory among the processes."""
        return max(
            (self.after[pid].rss_kb - r.rss_kb) / r.rss_kb
            for pid, r in self.before.items()
            if pid in self.after
        )

    def growth(self, what: str) -> int:
        """The largest growth of `fds` or `threads` among the processes."""
        return max(
            getattr(self.after[pid], what) - getattr(r, what)
            for pid, r in self.before.items()
            if pid in self.after
        )


def resources(pid: int) -> Resources:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return Resources(
        rss_kb=int(fields["VmRSS"].split()[0]),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(fields["Threads"]),
    )


def shm_segments() -> int:
    return len(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else 0


def soak(
    client: GraphClient,
    pids: Sequence[int],
    count: int,
    warm_up: int = 14,
    instructions: Iterable[str] = SOAK_INSTRUCTIONS,
    timeout_s: float = 30.0,
    alive: Callable[[], str | None] = lambda: None,
) -> SoakReport:
    """Send `warm_up` then `count` instructions one after another through `client`; resources
    are read after the warm-up and at the end."""
    report = SoakReport()
    cycle = itertools.cycle(instructions)
    for _ in range(warm_up):
        client.execute(next(cycle), timeout_s, alive=alive)
    report.before = {pid: resources(pid) for pid in pids}
    report.shm_before = shm_segments()
    for _ in range(count):
        text = next(cycle)
        outcome = client.execute(text, timeout_s, alive=alive)
        report.count += 1
        report.outcomes[outcome.state] += 1
        if outcome.planner.state not in FINISHED_EXECUTION_STATES:
            report.unaccounted.append(text)
    report.after = {pid: resources(pid) for pid in pids}
    report.shm_after = shm_segments()
    return report
