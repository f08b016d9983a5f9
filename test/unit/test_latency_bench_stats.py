"""The bench's statistics and settings, without ROS: summaries in a named unit, CDFs, jitter,
ratios, CPU share, growth against linear, and which settings can be run."""

import itertools

import numpy as np
import pytest

from llm_mas_ros.latency_bench import latency_stats as L
from llm_mas_ros.latency_bench.bench_settings import QUICK, BenchSettings, settings_for


def test_summary_names_its_unit_and_leaves_lost_samples_out():
    values = [0.001, 0.002, 0.003, float("nan")]  # s; NaN: a lost state
    summary = L.summary(values, "us")
    assert summary["count"] == 3
    assert summary["p50"] == pytest.approx(2000.0)
    assert summary["max"] == pytest.approx(3000.0)
    assert summary["mean"] == pytest.approx(2000.0)
    assert L.summary(values, "ms")["p50"] == pytest.approx(2.0)


def test_summary_of_nothing_has_no_statistics():
    assert L.summary([float("nan")], "us") == {
        "count": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None,
    }  # fmt: skip


def test_p99_sees_the_tail():
    values = np.full(1000, 0.001)
    values[-20:] = 0.010  # 2% of the states are 10x slower
    summary = L.summary(values, "us")
    assert summary["p50"] == pytest.approx(1000.0)
    assert summary["p99"] == pytest.approx(10000.0)


def test_cdf_has_one_value_per_percentile_rising():
    cdf = L.cdf(np.linspace(0.0, 0.001, 50), "us")
    assert len(cdf) == len(L.CDF_PERCENTILES) == 101
    assert cdf[0] == pytest.approx(0.0) and cdf[-1] == pytest.approx(1000.0)
    assert all(a <= b for a, b in itertools.pairwise(cdf))
    assert L.cdf([], "us") == []


def test_jitter_is_the_deviation_of_intervals_from_the_period():
    period = 0.01
    acts = [0.0, 0.010, 0.021, 0.030, float("nan"), 0.050, 0.0605]
    jitter = L.jitter(acts, period)
    # intervals 10, 11, 9 ms, then none across the lost act, then 10.5 ms
    assert jitter == pytest.approx([0.0, 0.001, 0.001, 0.0005], abs=1e-12)


def test_a_perfectly_periodic_stream_has_no_jitter():
    assert np.allclose(L.jitter(np.arange(10) * 0.002, 0.002), 0.0)


def test_ratio_rounds_and_refuses_missing_or_zero():
    assert L.ratio(1.0, 3.0) == 0.333
    assert L.ratio(None, 3.0) is None
    assert L.ratio(1.0, None) is None
    assert L.ratio(1.0, 0.0) is None


def test_cpu_share_is_percent_of_one_core_per_agent():
    assert L.cpu_share(cpu_s=0.7, wall_s=1.0, agents=7) == pytest.approx(10.0)


def test_growth_against_linear():
    linear = L.growth([7, 14, 28], [10.0, 20.0, 40.0])
    assert linear["relative"] == [1.0, 2.0, 4.0] and linear["linear"] == [1.0, 2.0, 4.0]
    assert linear["loglog_slope"] == pytest.approx(1.0)
    assert linear["no_worse_than_linear"]
    flat = L.growth([7, 56], [10.0, 12.0])
    assert flat["no_worse_than_linear"] and flat["loglog_slope"] < 0.2
    worse = L.growth([7, 14], [10.0, 30.0])
    assert not worse["no_worse_than_linear"] and worse["loglog_slope"] > 1.0


def test_growth_needs_two_points_and_a_positive_start():
    with pytest.raises(ValueError):
        L.growth([7], [1.0])
    with pytest.raises(ValueError):
        L.growth([7, 14], [0.0, 1.0])


def test_rate_keys_name_rates_plainly():
    assert [L.rate_key(r) for r in (100.0, 500.0, 12.5)] == ["100", "500", "12.5"]


def test_settings_override_sort_and_check():
    settings = settings_for(True, rates_hz=[500.0, 100.0, 500.0], scaling_agents=[14, 7])
    assert settings.rates_hz == (100.0, 500.0) and settings.headline_rate_hz == 500.0
    assert settings.scaling_agents == (7, 14)
    assert settings.seconds == QUICK.seconds  # not given: the quick budget's
    assert settings_for(seconds=None) == BenchSettings()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"rates_hz": [0.0]}, "rates"),
        ({"seconds": 0.0}, "durations"),
        ({"scaling_agents": [10]}, "multiples of 7"),
        ({"decode_load": "gpu"}, "decode load"),
        ({"planner": "local"}, "planner"),
        ({"starts": 0}, "starts"),
    ],
)
def test_settings_that_cannot_run_are_named(override, message):
    with pytest.raises(ValueError, match=message):
        settings_for(**override)
