"""Fixed-size latency histograms (core/control/latency.py): percentiles within a bucket's
width, O(1) records, windows that age a transient out, and the state-age rule."""

import math
import random

import pytest

from llm_mas_ros.core.control.latency import (
    BUCKETS,
    LOOKUP_LIMIT_NS,
    LatencyHistogram,
    LatencyStats,
    bucket_of,
    bucket_value_ns,
)

BUCKET_SHARE = 10 ** (1 / 32) - 1  # a bucket's width relative to its lower edge: ~7.5 %


def test_percentiles_lie_within_a_bucket_of_the_exact_ones():
    rng = random.Random(7)
    samples = [int(rng.lognormvariate(math.log(200_000), 0.6)) for _ in range(20_000)]
    histogram = LatencyHistogram()
    for ns in samples:
        histogram.record(ns)
    ordered = sorted(samples)
    for measured, q in zip(
        (histogram.percentiles().p50_ms, histogram.percentiles().p99_ms), (0.5, 0.99), strict=True
    ):
        exact_ms = ordered[math.ceil(q * len(ordered)) - 1] * 1e-6
        assert measured == pytest.approx(exact_ms, rel=BUCKET_SHARE)


def test_the_look_up_table_agrees_with_the_computed_bucket():
    for ns in (0, 999, 1_000, 1_075, 5_000, 123_456, LOOKUP_LIMIT_NS - 1):
        histogram = LatencyHistogram()
        histogram.record(ns)
        expected = bucket_value_ns(bucket_of(ns)) * 1e-6
        # a 64 ns look-up slot may straddle a bucket edge: one bucket off at most
        assert histogram.percentiles().p50_ms == pytest.approx(expected, rel=BUCKET_SHARE * 1.01)


def test_out_of_range_samples_land_in_the_edge_buckets():
    assert bucket_of(-5) == 0 and bucket_of(10**12) == BUCKETS - 1
    histogram = LatencyHistogram()
    histogram.record(-5)
    histogram.record(10**12)
    assert histogram.percentiles() is not None and histogram.count == 2


def test_no_samples_no_percentiles_and_a_transient_ages_out_after_two_windows():
    stats = LatencyStats(window_s=10.0)
    assert stats.report(0.0).step_time is None
    for _ in range(100):
        stats.step_time.record(5_000_000)  # a 5 ms hiccup
    assert stats.report(1.0).step_time.p99_ms == pytest.approx(5.0, rel=BUCKET_SHARE)
    assert stats.report(10.0).step_time is not None  # rotated once: still the previous window
    stats.step_time.record(50_000)
    assert stats.report(20.0).step_time.p99_ms == pytest.approx(5.0, rel=BUCKET_SHARE)
    # two windows on, the hiccup is gone; what came after it stays one window more
    assert stats.report(30.0).step_time.p99_ms == pytest.approx(0.05, rel=BUCKET_SHARE)
    assert stats.report(31.0).step_time is None


def test_state_age_skips_unset_stamps_and_stamps_from_the_future():
    stats = LatencyStats()
    stats.record_state_age(0, 5_000_000)  # `ros2 topic pub` leaves the stamp unset
    stats.record_state_age(2_000_000, 1_000_000)  # another host's clock ahead of ours
    assert stats.state_age.count == 0
    stats.record_state_age(1_000_000, 1_300_000)
    assert stats.report(0.0).state_age.p50_ms == pytest.approx(0.3, rel=BUCKET_SHARE)
