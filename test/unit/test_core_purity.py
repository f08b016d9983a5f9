"""The core must work without ROS, and the agents without the sim or torch: what importing
them loads, checked in a fresh interpreter."""

import json
import pkgutil
import subprocess
import sys

import llm_mas_ros.core


def last_line_of(probe: str) -> str:
    """What a fresh interpreter running `probe` prints last (its sys.modules is its own)."""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_importing_the_whole_core_never_imports_rclpy():
    modules = [
        m.name for m in pkgutil.walk_packages(llm_mas_ros.core.__path__, "llm_mas_ros.core.")
    ]
    assert "llm_mas_ros.core.robot.model" in modules and "llm_mas_ros.core.sim.arm" in modules
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'rclpy')))\n"
    )
    assert json.loads(last_line_of(probe)) == []


def test_the_cli_plans_without_importing_rclpy():
    probe = (
        "import sys, io, contextlib\n"
        "from llm_mas_ros.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['plan', 'elbow to 45 degrees', '--json'])\n"
        "print(code, any(m.split('.')[0] == 'rclpy' for m in sys.modules))\n"
    )
    assert last_line_of(probe).split() == ["0", "False"]


def test_the_agents_process_runs_its_classical_policy_without_mujoco_or_torch():
    """ARCHITECTURE section 3: mujoco and torch load only where a learned policy is configured.
    The probe imports the agents node and runs goals through a group, as the node does."""
    probe = (
        "import json, sys\n"
        "import llm_mas_ros.nodes.agents_node\n"
        "from llm_mas_ros.core.control.agent import AgentGroup\n"
        "from llm_mas_ros.core.robot.model import load_robot\n"
        "robot = load_robot()\n"
        "group = AgentGroup(robot.agents, robot)\n"
        "for core in group.cores: core.observe(0.0, 0.0, 0.0)\n"
        "group.core('elbow').receive_goal('move to 45 degrees gently', 0.0)\n"
        "group.step(0.01)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'mujoco', 'torch'})))\n"
    )
    assert json.loads(last_line_of(probe)) == []


def test_the_agents_process_runs_a_learned_policy_without_mujoco_or_torch(tmp_path):
    """With `policy: learned` the agents still load numpy weights only: no torch, no mujoco."""
    weights = tmp_path / "weights.npz"
    probe = (
        "import dataclasses, json, sys\n"
        "import numpy as np\n"
        "import llm_mas_ros.nodes.agents_node\n"
        "from llm_mas_ros.core.control.agent import AgentGroup\n"
        "from llm_mas_ros.core.control.learned_policy import PolicyWeights, feature_count\n"
        "from llm_mas_ros.core.robot.model import PolicyKind, load_robot\n"
        "robot = load_robot()\n"
        "n, f = len(robot.agents), feature_count(len(robot.agents))\n"
        "z = lambda *s: np.zeros(s, np.float32)\n"
        "PolicyWeights(robot.agent_names, 0, 0.02, ((z(f, 8), z(8)),), (),"
        " (z(8, 1), z(1))).save(" + repr(str(weights)) + ")\n"
        "control = dataclasses.replace(robot.control, policy=PolicyKind.LEARNED,"
        " policy_weights=" + repr(str(weights)) + ")\n"
        "robot = dataclasses.replace(robot, control=control)\n"
        "group = AgentGroup(robot.agents, robot)\n"
        "assert group.guard is not None and not group.warnings, group.warnings\n"
        "for core in group.cores: core.observe(0.0, 0.0, 0.0)\n"
        "group.core('elbow').receive_goal('move to 45 degrees gently', 0.0)\n"
        "group.step(0.01)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'mujoco', 'torch'})))\n"
    )
    assert json.loads(last_line_of(probe)) == []
