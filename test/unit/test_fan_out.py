"""fan_out with real spawned processes and a real local Ray instance (no mocks of either).

The work function is `math.factorial`: spawned processes and Ray workers import it by name,
which they cannot do for a function of this module (test/unit is no package), and it raises
ValueError on a negative item, which makes a failing item. The Ray tests share one 2-CPU
instance (module fixture, ~5 s to start on 2 cores); the two tests that need Ray *not*
initialised come before the first test that uses it.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_mas_ros.core.errors import ConfigError, LlmMasError
from llm_mas_ros.training.fan_out import WorkerError, fan_out, progress_printer, ray_session

ITEMS = (5, 0, 12, 3, 7, 1, 9)
EXPECTED = [math.factorial(n) for n in ITEMS]
FAILING = (4, -1, 6)  # item [1] raises ValueError
THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # os.getenv of these, in the workers


def _recorder() -> tuple[list[tuple[int, int]], Any]:
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid: (parent pid, name, state) of every process, from /proc (Linux, as ROS 2 here)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        state, parent = rest.split()[:2]
        table[int(stat.parent.name)] = (int(parent), name, state)
    return table


def _ray_processes() -> set[int]:
    """The Ray processes (GCS, raylet, workers) this test process started, still running."""
    table, ours, grown = _processes(), {os.getpid()}, True
    while grown:
        more = {pid for pid, (parent, _, _) in table.items() if parent in ours} - ours
        ours, grown = ours | more, bool(more)
    names = ("raylet", "gcs_server", "ray::")
    return {pid for pid in ours if table[pid][1].startswith(names) and table[pid][2] != "Z"}


def _alive(pids: set[int]) -> set[int]:
    table = _processes()
    return {pid for pid in pids if pid in table and table[pid][2] != "Z"}


# In this process and in processes.


def test_in_this_process_keeps_item_order() -> None:
    assert fan_out(math.factorial, ITEMS) == EXPECTED


def test_processes_give_the_same_results_in_item_order() -> None:
    calls, progress = _recorder()
    assert fan_out(math.factorial, ITEMS, workers=2, progress=progress) == EXPECTED
    assert calls == [(done, len(ITEMS)) for done in range(1, len(ITEMS) + 1)]
    assert multiprocessing.active_children() == []


def test_a_failing_item_names_its_index_in_this_process() -> None:
    with pytest.raises(WorkerError, match=r"rollouts: item \[1\] of 3 failed: ValueError") as e:
        fan_out(math.factorial, FAILING, label="rollouts")
    assert (e.value.index, e.value.error_type) == (1, "ValueError")
    assert isinstance(e.value.__cause__, ValueError)


def test_a_failing_item_stops_the_processes() -> None:
    with pytest.raises(LlmMasError, match=r"item \[1\] of 3 failed: ValueError: factorial"):
        fan_out(math.factorial, FAILING, workers=2)
    assert multiprocessing.active_children() == []


def test_progress_in_this_process() -> None:
    calls, progress = _recorder()
    fan_out(math.factorial, ITEMS, progress=progress)
    assert calls == [(done, len(ITEMS)) for done in range(1, len(ITEMS) + 1)]


def test_progress_printer_prints_about_every_tenth_and_the_end() -> None:
    stream = io.StringIO()
    report = progress_printer("episodes", stream)
    for done in range(1, 26):
        report(done, 25)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "episodes: 3/25"
    assert lines[-1] == "episodes: 25/25"
    assert len(lines) <= 11


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="workers"):
        fan_out(math.factorial, ITEMS, workers=-1)
    with pytest.raises(ConfigError, match="Ray address"):
        fan_out(math.factorial, ITEMS, ray_address=" ")


def test_no_items_starts_nothing() -> None:
    before = _ray_processes()
    assert fan_out(math.factorial, [], workers=2, ray_address="local") == []
    assert multiprocessing.active_children() == []
    assert _ray_processes() == before


def test_workers_run_one_thread_each_and_leave_this_process_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # what the spawned workers inherit
    assert fan_out(os.getenv, THREADS, workers=2) == ["1", "1"]
    assert fan_out(os.getenv, THREADS) == ["4", None]  # in this process: untouched


# On Ray. The unreachable address first: it needs Ray not initialised in this process.


def test_an_unreachable_ray_address_is_a_config_error_at_once() -> None:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("another test left Ray initialised: fan_out would use that instance")
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"cannot reach a Ray cluster at 127\.0\.0\.1:1: "):
        fan_out(math.factorial, ITEMS, ray_address="127.0.0.1:1")
    assert time.monotonic() - start < 10.0
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local 2-CPU Ray instance for the module's Ray tests, started the way fan_out
    starts one; fan_out calls inside it use it and leave it running."""
    owned = not pytest.importorskip("ray").is_initialized()
    before = _ray_processes()
    with ray_session("local", workers=2) as ray:
        started = _ray_processes() - before
        yield ray
    if owned:  # the session started Ray, so it shut it down, leaving nothing behind
        assert started
        assert not ray.is_initialized()
        assert _alive(started) == set()  # not even orphans (they would have a new parent)


def test_ray_caps_threads_too(local_ray: Any) -> None:
    assert fan_out(os.getenv, THREADS, ray_address="local") == ["1", "1"]


def test_ray_gives_the_same_results_in_item_order(local_ray: Any) -> None:
    calls, progress = _recorder()
    results = fan_out(math.factorial, ITEMS, workers=2, ray_address="local", progress=progress)
    assert results == EXPECTED
    assert calls == [(done, len(ITEMS)) for done in range(1, len(ITEMS) + 1)]
    assert local_ray.is_initialized()  # not this call's instance: left running
    assert local_ray.cluster_resources()["CPU"] == 2


def test_a_failing_item_on_ray_names_its_index(local_ray: Any) -> None:
    with pytest.raises(WorkerError, match=r"item \[1\] of 3 failed: ValueError: factorial") as e:
        fan_out(math.factorial, FAILING, workers=2, ray_address="local")
    assert e.value.error_type == "ValueError"
    # The instance is still usable after the failure and the cancellations.
    assert fan_out(math.factorial, ITEMS, ray_address="local") == EXPECTED
