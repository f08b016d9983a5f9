"""`plan` fails fast and takes its fast paths before any model loads; the model flags, `plan
--from POSE`, and the refusal of planner flags where the planner is already running."""

import json
import math
import subprocess
import sys
from collections.abc import Iterator

import pytest

from llm_mas_ros import cli
from llm_mas_ros.cli import parse_arguments
from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.planning import planner_settings
from llm_mas_ros.core.planning.pipeline import PlanningPipeline
from llm_mas_ros.core.planning.plan import Proposal, ProposedStep
from llm_mas_ros.core.planning.planner_settings import (
    LazyPlanner,
    PlannerSettings,
    build_pipeline,
    planner_name,
)
from llm_mas_ros.launcher.bringup import config_files, node_list

MODEL_ONLY = "could the elbow do its little banana dance"  # the rules cannot plan it

# A child Python: `plan` as a person runs it, with the model loader replaced by one that fails
# the run loudly, and then which heavy modules the process holds.
NO_MODEL_PROBE = """
import json, sys
from llm_mas_ros import cli
from llm_mas_ros.core.planning import planner_settings
def refuse(*args, **kwargs):
    raise SystemExit("a model was loaded")
planner_settings._load_backend = refuse
codes = [cli.main(argv) for argv in ARGVS]
heavy = sorted(m for m in ("torch", "transformers", "xgrammar") if m in sys.modules)
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def run_plan_without_a_model(*argvs: list[str]) -> tuple[list[int], list[str], list[str]]:
    """Exit codes, the heavy modules imported, and the output lines before the summary."""
    probe = f"ARGVS = {argvs!r}\n{NO_MODEL_PROBE}"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    *lines, summary = result.stdout.strip().splitlines()
    report = json.loads(summary)
    return report["codes"], report["heavy"], lines + result.stderr.splitlines()


def test_fast_paths_and_bad_instructions_never_load_the_model():
    """The default backend (smollm2) configured: the rules, a stop and an empty instruction
    are answered without the model, and torch / transformers / xgrammar are never imported."""
    codes, heavy, lines = run_plan_without_a_model(
        ["plan", "open the gripper", "--json"], ["plan", "stop", "--json"], ["plan", ""]
    )
    assert codes == [0, 0, 1] and heavy == []
    opened, stopped, empty = lines
    assert json.loads(opened)["planner"] == "fast-path:rules"
    assert json.loads(stopped)["planner"] == "fast-path:stop"
    assert empty == "'': cannot plan: empty instruction"


class FakeModel:
    """A backend that plans every instruction as 'elbow: move to 10 deg', counting calls."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        self.calls += 1
        yield (Proposal("elbow", "move to 10 deg"),)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lazy_pipeline(arm, load_s: float = 0.0):
    """A pipeline on a LazyPlanner whose loading takes `load_s` on a fake clock."""
    clock, model, loads = Clock(), FakeModel(), []

    def load() -> FakeModel:
        loads.append(1)
        clock.now += load_s
        return model

    lazy = LazyPlanner("fake", load, clock)
    pipeline = PlanningPipeline(arm, lazy, cache_size=0, clock=lazy.planning_clock)
    return pipeline, lazy, model, loads


def test_the_lazy_backend_loads_once_when_an_instruction_first_needs_it(arm):
    pipeline, lazy, model, loads = lazy_pipeline(arm)
    home = dict.fromkeys(arm.agent_names, 0.0)
    assert pipeline.name == "fake" and not lazy.is_loaded  # its name without loading
    assert pipeline.plan("open the gripper", home).planner == "fast-path:rules"
    assert pipeline.plan("stop", home).stop and loads == []
    for _ in range(2):
        assert pipeline.plan(MODEL_ONLY, home).planner == "fake"
    assert loads == [1] and model.calls == 2 and lazy.is_loaded


def test_latencies_leave_the_one_time_load_out(arm):
    pipeline, lazy, _, _ = lazy_pipeline(arm, load_s=20.0)
    plan = pipeline.plan(MODEL_ONLY, dict.fromkeys(arm.agent_names, 0.0))
    assert lazy.load_s == 20.0
    assert plan.first_step_ms < 1000.0 and plan.total_ms < 1000.0


def test_a_failed_load_is_tried_again():
    attempts = []

    def load() -> FakeModel:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConfigError("not yet")
        return FakeModel()

    lazy = LazyPlanner("fake", load)
    with pytest.raises(ConfigError):
        lazy.propose("x")
    assert list(lazy.propose("x")) == [(Proposal("elbow", "move to 10 deg"),)]


@pytest.mark.parametrize("eager, loaded_at_build", [(True, 1), (False, 0)])
def test_the_node_loads_at_start_and_plan_when_needed(arm, monkeypatch, eager, loaded_at_build):
    """The planner node builds eagerly (default), so a running robot's first instruction is
    fast; `plan` builds lazily."""
    loads = []
    monkeypatch.setattr(
        planner_settings, "_load_backend", lambda robot, settings: loads.append(1) or FakeModel()
    )
    pipeline = build_pipeline(arm, PlannerSettings(), eager=eager)
    assert len(loads) == loaded_at_build
    pipeline.plan(MODEL_ONLY, dict.fromkeys(arm.agent_names, 0.0))
    assert len(loads) == 1


def test_a_lazy_backend_is_named_as_its_loaded_model_will_be(tmp_path):
    from llm_fixtures import tiny_model

    from llm_mas_ros.core.planning.llm.models import load_local

    tiny = tiny_model()
    folder = tmp_path / "my-model"
    tiny.model.save_pretrained(folder)
    tiny.tokenizer.save_pretrained(folder)
    settings = PlannerSettings(backend="local", model_path=f"{folder}/")
    assert planner_name(settings) == load_local(folder, "cpu").name == "local:my-model"
    assert planner_name(PlannerSettings()) == "smollm2"


def test_model_flags_override_the_planner_settings(tmp_path):
    args = parse_arguments(
        ["plan", "x", "--model-path", str(tmp_path), "--threads", "1", "--device", "cpu"]
    )
    overrides = cli._planner_overrides(args)
    assert overrides == {
        "backend": "local",  # --model-path alone: the model of backend local
        "model_path": str(tmp_path.resolve()),
        "threads": 1,
        "device": "cpu",
    }
    settings = cli._planner_settings(config_files(), overrides)
    assert (settings.backend, settings.threads, settings.device) == ("local", 1, "cpu")
    assert cli._planner_overrides(parse_arguments(["plan", "x"])) == {}


def test_a_model_path_for_another_backend_is_refused():
    args = parse_arguments(["run", "x", "--planner", "smollm2", "--model-path", "d"])
    with pytest.raises(ConfigError, match="--model-path is the model of --planner local"):
        cli._planner_overrides(args)


@pytest.mark.parametrize("flags", [["--threads", "-1"], ["--threads", "two"], ["--device", "tpu"]])
def test_bad_model_flags_are_usage_errors(flags, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_arguments(["up", *flags])
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and error.count("\n") == 1
    assert error.startswith(f"llm-mas-ros up: error: argument {flags[0]}")


def test_run_and_up_hand_the_model_flags_to_the_planner_node_only():
    overrides = {"backend": "local", "model_path": "/m", "threads": 1, "device": "cpu"}
    specs = cli._with_planner_parameters(node_list(), overrides)
    planner = next(spec for spec in specs if spec.name == "planner")
    rules = planner.ros_rules()
    for key, value in [("backend", "local"), ("model_path", "/m"), ("threads", "1")]:
        assert f"planner:{key}:={value}" in rules
    # Node-scoped overrides come after the parameter files: they win over planner.yaml.
    assert rules.index("planner:device:=cpu") > rules.index(planner.parameter_files[-1])
    others = [spec for spec in specs if spec.name != "planner"]
    assert others == [spec for spec in node_list() if spec.name != "planner"]


@pytest.mark.parametrize(
    "argv",
    [
        ["say", "elbow to 5 deg", "--planner", "rules"],
        ["run", "elbow to 5 deg", "--attach", "--threads", "1"],
    ],
)
def test_planner_flags_for_a_running_planner_are_refused_not_ignored(argv):
    args = parse_arguments(argv)
    with pytest.raises(ConfigError, match="talks to the running planner; its backend is set by"):
        args.run(args)  # before any ROS: the refusal comes first


@pytest.mark.parametrize("pose", ["home", "ready", "stow"])
def test_plan_from_a_named_pose(arm, pose):
    robot, files = cli._load(None)
    start = cli._start_positions(robot, files, pose)
    named = arm.poses[pose]
    for agent in arm.agents:
        expected = named.get(agent.joint.name, agent.joint.clamp(0.0))  # unnamed: 0 in limits
        assert start[agent.name] == pytest.approx(expected)
    assert start["gripper"] == arm.agent("gripper").joint.lower  # closed: no pose names it


def test_plan_from_defaults_to_where_the_sim_starts():
    robot, files = cli._load(None)
    assert cli._start_positions(robot, files) == cli._start_positions(robot, files, "home")


def test_plan_from_an_unknown_start_names_the_known_ones():
    robot, files = cli._load(None)
    with pytest.raises(ConfigError, match="use one of home, ready, stow, current"):
        cli._start_positions(robot, files, "kitchen")


def test_a_relative_move_is_planned_from_the_given_pose(arm, capsys):
    cli.cmd_plan(parse_arguments(["plan", "elbow by 10 degrees", "--from", "ready", "--json"]))
    plan = json.loads(capsys.readouterr().out)
    target = plan["steps"][0][0]["target"]
    ready_elbow = arm.poses["ready"][arm.agent("elbow").joint.name]
    assert target == pytest.approx(ready_elbow + math.radians(10), abs=1e-4)


@pytest.mark.parametrize(
    ("cpus", "expected"), [(1, 1), (2, 1), (3, 2), (4, 3), (8, 7), (9, 8), (32, 8)]
)
def test_automatic_threads_leave_a_cpu_and_take_one_on_two(cpus, expected):
    """One thread on 2 CPUs: more threads than free CPUs stall beside one busy process
    (benchmarks/planner_load_bench.py); else all CPUs but one, at most MAX_CPU_THREADS."""
    from llm_mas_ros.core.planning.llm import models

    assert models.automatic_threads(cpus) == expected


def test_a_real_model_alone_gets_the_automatic_threads_too(monkeypatch):
    import torch

    from llm_mas_ros.core.planning.llm import models

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(models.os, "sched_getaffinity", lambda pid: set(range(2)))
    try:
        assert models.configure_threads(None, 135_000_000) == 1  # `plan`, not only the node
    finally:
        torch.set_num_threads(before)
