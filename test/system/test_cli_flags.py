"""`plan --from current` against a running graph and without one, and the model flags of
`run` reaching the planner process."""

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.launcher.bringup import node_list
from llm_mas_ros.launcher.processes import ProcessGroup, claim_free_domain
from llm_mas_ros.ros.client import GraphClient

CLI = [sys.executable, "-m", "llm_mas_ros.cli"]
START_POSE = "ready"  # not home: where `plan` would assume the robot without --from current


def llm_mas_ros(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def sim_at_ready(ros, tmp_path_factory) -> Iterator[dict[str, float]]:
    """Only the embedded sim, started at the ready pose, on this session's domain; yields the
    joint states it publishes once every joint was heard."""
    specs = node_list(part="robot", sim_parameters={"initial_pose": START_POSE})
    group = ProcessGroup(specs, log_dir=tmp_path_factory.mktemp("logs"))
    group.start()
    client = GraphClient(load_robot(), node_name="cli_flags_test")
    try:
        positions = client.fresh_positions(timeout_s=60.0)  # NaN for a joint not heard
        assert not any(map(math.isnan, positions.values())), f"sim: {group.failed()}"
        yield positions
    finally:
        client.close()
        group.stop()


def test_plan_from_current_plans_from_the_running_graph(sim_at_ready):
    robot = load_robot()
    elbow = robot.agent("elbow").joint.name
    assert sim_at_ready[elbow] == pytest.approx(robot.poses[START_POSE][elbow], abs=0.02)
    result = llm_mas_ros(
        "plan", "elbow by 10 degrees", "--from", "current", "--json", env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    target = json.loads(result.stdout)["steps"][0][0]["target"]
    assert target == pytest.approx(sim_at_ready[elbow] + math.radians(10), abs=0.02)


def test_plan_from_current_without_a_graph_is_one_line_and_exit_1():
    with claim_free_domain() as claim:  # a domain no participant on this host uses
        env = {**os.environ, "ROS_DOMAIN_ID": str(claim.domain)}
        result = llm_mas_ros("plan", "elbow by 10 degrees", "--from", "current", env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"no /joint_states on ROS_DOMAIN_ID={claim.domain} within 5 s" in result.stderr
    assert "llm-mas-ros up" in result.stderr


def test_run_hands_the_model_flags_to_the_planner_process(tmp_path):
    """--model-path (and with it backend local) reach the planner node: it fails to load a
    model from a folder that has none, naming the folder."""
    missing = tmp_path / "no-model-here"
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # `run` brings up a graph of its own
    args = ["elbow to 5 degrees", "--sim", "none", "--model-path", str(missing), "--threads", "1"]
    result = llm_mas_ros("run", *args, env=env, timeout=120)
    assert result.returncode == 1, result.stdout
    assert "planner exited" in result.stderr
    assert f"{missing} is not a transformers model directory" in result.stderr
