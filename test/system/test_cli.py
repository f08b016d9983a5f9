"""The `llm-mas-ros` command as a person uses it: exit codes, JSON, no orphan processes."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "llm_mas_ros.cli"]


def own_domain() -> dict[str, str]:
    """A domain of its own: `run` starts a whole graph, which must not meet the module graph."""
    domain = (int(os.environ["ROS_DOMAIN_ID"]) + 50) % 101 + 1
    return {**os.environ, "ROS_DOMAIN_ID": str(domain)}


def llm_mas_ros(*args: str, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env or own_domain()
    )


def node_processes(domain: str) -> list[int]:
    """Our node processes running in `domain` (read from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except (OSError, ValueError):
            continue
        if b"llm_mas_ros.nodes" in cmdline and f"ROS_DOMAIN_ID={domain}\0".encode() in environ:
            found.append(int(proc.name))
    return found


def test_run_elbow_to_45_degrees_json_and_clean_shutdown():
    env = own_domain()
    result = llm_mas_ros("run", "elbow to 45 degrees", "--json", env=env)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["ok"] is True and output["instruction"] == "elbow to 45 degrees"
    assert output["final_positions"]["elbow_joint"] == pytest.approx(math.radians(45), abs=0.02)
    others = {j: v for j, v in output["final_positions"].items() if j != "elbow_joint"}
    assert all(abs(v) < 0.02 for v in others.values()), others
    assert set(output["timings_ms"]) == {"first_step", "first_command", "done"}
    assert set(output["latency_ms"]) == {"first_step", "total"}
    assert output["steps"][0][0] == {
        "agent": "elbow",
        "goal": "move to 45 deg",
        "target": pytest.approx(0.785398, abs=1e-6),
        "duration_s": pytest.approx(1.227, abs=1e-3),
    }
    assert node_processes(env["ROS_DOMAIN_ID"]) == []


def test_run_out_of_limit_exits_non_zero_with_the_limit_in_the_reason():
    result = llm_mas_ros("run", "elbow to 400 degrees", "--json")
    assert result.returncode == 1
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["ok"] is False and output["steps"] == []
    assert "[-160.4, 160.4] deg" in output["rejected"][0]["reason"]
    assert abs(output["final_positions"]["elbow_joint"]) < 0.02


def test_plan_prints_the_contract_json_without_ros():
    result = llm_mas_ros("plan", "shoulder_pan to -30 degrees and open the gripper", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert set(plan) >= {"instruction", "planner", "steps", "rejected", "latency_ms"}
    (step,) = plan["steps"]
    assert [goal["agent"] for goal in step] == ["shoulder_pan", "gripper"]
    assert step[0]["target"] == pytest.approx(-0.5236, abs=1e-4)
    assert step[1]["target"] == pytest.approx(0.04)


def test_plan_several_instructions_one_json_line_each(tmp_path):
    file = tmp_path / "instructions.txt"
    file.write_text("elbow to 10 degrees\n\ngo home\n")
    result = llm_mas_ros("plan", "wrist_1 to 5 deg", "--file", str(file), "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["instruction"] for line in lines] == [
        "wrist_1 to 5 deg",
        "elbow to 10 degrees",
        "go home",
    ]


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["plan", "make me a sandwich"], 1, "asks for nothing this robot can do"),
        (["plan", "make me a sandwich", "--planner", "rules"], 1, "cannot tell which agent"),
        (["plan", "--file", "/nonexistent"], 1, "cannot read /nonexistent"),
        (["--config", "/nonexistent", "plan", "x"], 2, "missing config file"),
        (["plan", "elbow to 1 deg", "--planner", "local"], 2, "needs model_path"),
        (["plan", "x", "--planner", "bogus"], 2, "invalid choice: 'bogus'"),
        (["run"], 2, "required: instruction"),
    ],
)
def test_errors_are_one_readable_line_and_a_non_zero_exit(args, code, message):
    result = llm_mas_ros(*args)
    assert result.returncode == code
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 1


def test_say_talks_to_a_running_system(graph):
    result = llm_mas_ros("say", "wrist_2 to 15 degrees", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "planner: " in result.stdout and "ok (done after" in result.stdout


def test_say_without_a_system_explains_itself():
    result = llm_mas_ros("say", "elbow to 1 deg", "--ready-timeout", "2")
    assert result.returncode == 1 and "did not become ready" in result.stderr


def test_up_then_say_then_ctrl_c_leaves_nothing_behind():
    import selectors
    import signal
    import time

    env = own_domain()
    up = subprocess.Popen(
        [*CLI, "up"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        selector = selectors.DefaultSelector()
        selector.register(up.stdout, selectors.EVENT_READ)
        deadline, ready = time.monotonic() + 90, False
        while not ready and time.monotonic() < deadline:
            if selector.select(timeout=1.0):
                line = up.stdout.readline()
                ready = "llm-mas-ros: ready" in line
                if not line and up.poll() is not None:
                    break
        assert ready, "up never said it was ready"
        said = llm_mas_ros("say", "gripper open", "--json", env=env)
        assert said.returncode == 0 and json.loads(said.stdout)["ok"] is True
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
    finally:
        if up.poll() is None:
            up.kill()
    assert node_processes(env["ROS_DOMAIN_ID"]) == []


def test_run_the_issue_example_open_then_bend():
    result = llm_mas_ros(
        "run", "could you open the gripper and then bend the elbow to 30 degrees", "--json"
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["final_positions"]["gripper_finger_joint"] == pytest.approx(0.04, abs=0.002)
    assert output["final_positions"]["elbow_joint"] == pytest.approx(0.5236, abs=0.02)


@pytest.mark.smollm2
def test_plan_several_free_form_instructions_loads_the_model_once():
    result = llm_mas_ros(
        "plan",
        "swing the base round to ninety degrees",
        "levitate the tentacle",
        "elbow to 10 deg",
        "--json",
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["planner"] == "smollm2"
    assert lines[0]["steps"][0][0]["target"] == pytest.approx(math.pi / 2, abs=1e-4)
    assert "asks for nothing" in lines[1]["error"]
    assert lines[2]["planner"] == "fast-path:rules" and lines[2]["latency_ms"]["first_step"] < 5
    assert result.returncode == 1  # one instruction could not be planned
