"""The core must work without ROS: importing every core module must not import rclpy."""

import json
import pkgutil
import subprocess
import sys

import llm_mas_ros.core


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
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_cli_plans_without_importing_rclpy():
    probe = (
        "import sys, io, contextlib\n"
        "from llm_mas_ros.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['plan', 'elbow to 45 degrees', '--json'])\n"
        "print(code, any(m.split('.')[0] == 'rclpy' for m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["0", "False"]
