"""Fixed-size latency histograms: the agents process measures its own hop costs in production,
as ros2_control reports its periodicity and execution-time statistics, cheaply enough to stay on.

A histogram has log-spaced buckets from 1 µs to 1 s, BUCKETS_PER_DECADE to a decade (each
~7.5 % wide, so a percentile read from its bucket's geometric middle is within ~3.7 % of the
sample), plus one bucket below 1 µs (negative values included) and one at or above 1 s. The
buckets are allocated once; `record` is O(1) and keeps nothing of the sample: below
LOOKUP_LIMIT_NS it is one table look-up (binned by its 64 ns slot), above it one log.
Counts are kept for two windows of WINDOW_S, the current one and the one before it, so the
percentiles describe the last WINDOW_S to 2 * WINDOW_S seconds and a transient ages out.
Samples are integer nanoseconds (time.perf_counter_ns); reports are in ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

LOW_NS = 1_000  # 1 µs: the lower edge of the first log bucket
DECADES = 6  # up to 1 s
BUCKETS_PER_DECADE = 32
BUCKETS = DECADES * BUCKETS_PER_DECADE + 2  # + one below LOW_NS, + one at or above 1 s
WINDOW_S = 10.0  # a window's length; percentiles cover the current and the previous one
_TOP = BUCKETS - 1
_SCALE = BUCKETS_PER_DECADE / math.log(10.0)
_OFFSET = math.log(LOW_NS) * _SCALE
_LOOKUP_SHIFT = 6  # table slots of 64 ns: narrower than a bucket (75 ns at 1 µs)
LOOKUP_LIMIT_NS = 1 << 20  # ~1.05 ms: below it a sample's bucket is looked up, not computed
_ZEROS = [0] * BUCKETS


def bucket_of(ns: int) -> int:
    """The bucket of a sample of `ns` nanoseconds: 0 below 1 µs, _TOP at or above 1 s."""
    if ns < LOW_NS:
        return 0
    return min(int(math.log(ns) * _SCALE - _OFFSET) + 1, _TOP)


def bucket_value_ns(bucket: int) -> float:
    """What a bucket stands for (ns): the geometric middle of its edges; 1 µs for the bucket
    below (an upper bound), 1 s for the one above (a lower bound)."""
    if bucket <= 0:
        return float(LOW_NS)
    if bucket >= _TOP:
        return LOW_NS * 10.0**DECADES
    return float(LOW_NS * 10.0 ** ((bucket - 0.5) / BUCKETS_PER_DECADE))


_LOOKUP = [bucket_of(slot << _LOOKUP_SHIFT) for slot in range(LOOKUP_LIMIT_NS >> _LOOKUP_SHIFT)]


@dataclass(frozen=True)
class HopLatency:
    """Percentiles of one hop (ms)."""

    p50_ms: float
    p99_ms: float


class LatencyHistogram:
    """Counts of one hop's samples in fixed buckets, for the current and the previous window."""

    __slots__ = ("_counts", "_previous")

    def __init__(self) -> None:
        self._counts = [0] * BUCKETS
        self._previous = [0] * BUCKETS

    def record(self, ns: int) -> None:
        """Count one sample of `ns` nanoseconds: O(1), no storage per sample."""
        if 0 <= ns < LOOKUP_LIMIT_NS:
            self._counts[_LOOKUP[ns >> _LOOKUP_SHIFT]] += 1
        else:
            self._counts[bucket_of(ns)] += 1

    def rotate(self) -> None:
        """Start a new window: the current one becomes the previous, the oldest is dropped."""
        self._previous, self._counts = self._counts, self._previous
        self._counts[:] = _ZEROS

    @property
    def count(self) -> int:
        return sum(self._counts) + sum(self._previous)

    def percentiles(self, low: float = 0.5, high: float = 0.99) -> HopLatency | None:
        """The `low` and `high` quantiles over both windows, or None without samples. One
        pass over the buckets: a quantile is the first bucket whose running count reaches
        ceil(q * samples)."""
        total = self.count
        if total == 0:
            return None
        wanted = [max(1, math.ceil(q * total - 1e-9)) for q in (low, high)]
        found: list[float] = []
        running = 0
        pairs = zip(self._counts, self._previous, strict=True)
        for bucket, (current, previous) in enumerate(pairs):
            running += current + previous
            while len(found) < len(wanted) and running >= wanted[len(found)]:
                found.append(bucket_value_ns(bucket) * 1e-6)
            if len(found) == len(wanted):
                break
        return HopLatency(found[0], found[1])


@dataclass(frozen=True)
class LatencyReport:
    """p50/p99 of each hop of the agents process (None: no samples yet). The hops are the
    process's, shared by the agents it hosts: they are stepped and published together."""

    # /joint_states header stamp -> received, where stamps are set and on the same clock
    state_age: HopLatency | None = None
    # one batched step of every agent (observation, policy, bookkeeping)
    step_time: HopLatency | None = None
    # state received -> the last command of its tick published (the agents' sense -> act)
    state_to_command: HopLatency | None = None
    # publishing one tick's commands, every agent's
    command_publish: HopLatency | None = None


class LatencyStats:
    """One histogram per hop of LatencyReport; `report` reads them and rolls the window."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.state_age = LatencyHistogram()
        self.step_time = LatencyHistogram()
        self.state_to_command = LatencyHistogram()
        self.command_publish = LatencyHistogram()
        self.window_s = window_s
        self.window_started_at: float | None = None

    def record_state_age(self, stamp_ns: int, arrived_ns: int) -> None:
        """A state stamped `stamp_ns` that arrived at `arrived_ns` (both ns on the stamp's
        clock). An unset stamp (0: `ros2 topic pub`) or one from the future (another host's
        clock ahead of ours) says nothing and is skipped."""
        if stamp_ns > 0 and arrived_ns >= stamp_ns:
            self.state_age.record(arrived_ns - stamp_ns)

    def histograms(self) -> dict[str, LatencyHistogram]:
        return {f.name: getattr(self, f.name) for f in fields(LatencyReport)}

    def report(self, now: float) -> LatencyReport:
        """Percentiles over the last one to two windows; then, once the current window is
        `window_s` old (s, on the caller's clock), a new one starts."""
        hops = self.histograms()
        report = LatencyReport(**{name: h.percentiles() for name, h in hops.items()})
        if self.window_started_at is None:
            self.window_started_at = now
        elif now - self.window_started_at >= self.window_s:
            for histogram in hops.values():
                histogram.rotate()
            self.window_started_at = now
        return report
