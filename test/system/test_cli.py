"""The `llm-mas-ros` command as a person uses it: exit codes, JSON, no orphan processes."""

import contextlib
import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_mas_ros.launcher.bringup import FASTDDS_PROFILE_ENV

CLI = [sys.executable, "-m", "llm_mas_ros.cli"]
TAG = "LLM_MAS_ROS_TEST_TAG"  # inherited by every process a CLI starts: finds them in /proc


def own_domain() -> dict[str, str]:
    """A domain of its own for `up`, and a tag for its processes. (`run` picks a free domain
    itself; `say` must find the `up` it talks to on the environment's domain.)"""
    domain = (int(os.environ["ROS_DOMAIN_ID"]) + 50) % 101 + 1
    return {**os.environ, "ROS_DOMAIN_ID": str(domain), TAG: uuid.uuid4().hex}


def llm_mas_ros(*args: str, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env or own_domain()
    )


def node_processes(env: dict[str, str]) -> list[int]:
    """Live node processes started by a CLI that ran with `env` (read from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()  # empty for a zombie: it is gone
            environ = (proc / "environ").read_bytes()
        except (OSError, ValueError):
            continue
        if b"llm_mas_ros.nodes" in cmdline and f"{TAG}={env[TAG]}\0".encode() in environ:
            found.append(int(proc.name))
    return found


def wait_until_gone(env: dict[str, str], timeout_s: float = 20.0) -> list[int]:
    """Wait until every node process of `env` has exited, or the deadline; returns those left.
    A pidfd turns readable when its process exits: an event, for processes that are not ours
    to wait() for."""
    selector = selectors.DefaultSelector()
    for pid in node_processes(env):
        with contextlib.suppress(ProcessLookupError):  # already gone
            selector.register(os.pidfd_open(pid), selectors.EVENT_READ, pid)
    deadline = time.monotonic() + timeout_s
    while selector.get_map() and (remaining := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=remaining):
            selector.unregister(key.fd)
            os.close(key.fd)
    left = [key.data for key in selector.get_map().values()]
    for fd in list(selector.get_map()):
        os.close(fd)
    return left


@contextlib.contextmanager
def running_up(
    env: dict[str, str], *args: str, stderr=subprocess.DEVNULL, prefix: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen]:
    """`llm-mas-ros up` (after `prefix`, a command that execs it), yielded once it says it is
    ready, and killed on the way out if the test left it running."""
    up = subprocess.Popen(
        [*prefix, *CLI, "up", *args], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
    )
    selector = selectors.DefaultSelector()
    selector.register(up.stdout, selectors.EVENT_READ)
    deadline, ready = time.monotonic() + 90, False
    while not ready and time.monotonic() < deadline:
        if selector.select(timeout=1.0):
            line = up.stdout.readline()
            ready = "llm-mas-ros: ready" in line
            if not line and up.poll() is not None:
                break
    try:
        if not ready:
            pytest.fail("up never said it was ready")
        yield up
    finally:
        if up.poll() is None:
            up.kill()


def test_run_elbow_to_45_degrees_json_and_clean_shutdown(tmp_path):
    env = {**own_domain(), "TMPDIR": str(tmp_path)}
    result = llm_mas_ros("run", "elbow to 45 degrees", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("llm_mas_ros-*")) == []  # the nodes' logs: removed on success
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
    assert node_processes(env) == []


def test_run_with_one_process_per_agent():
    """`--agents separate` (ARCHITECTURE section 7: same code, one process per agent)."""
    env = own_domain()
    args = ["wrist_2 to -20 degrees and open the gripper", "--agents", "separate"]
    result = llm_mas_ros("run", *args, "--planner", "rules", "--json", env=env)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["ok"] is True and len(output["steps"]) == 1
    final = output["final_positions"]
    assert final["wrist_2_joint"] == pytest.approx(math.radians(-20), abs=0.02)
    assert final["gripper_finger_joint"] == pytest.approx(0.04, abs=0.002)
    assert node_processes(env) == []


def test_run_planner_option_reaches_the_planner_node():
    """`--planner rules` must outrank planner.yaml's own section in the planner process: the
    rules cannot read this free-form instruction, the embedded model could."""
    instruction = "could you open your hand and then swing the base round to ninety degrees"
    result = llm_mas_ros("run", instruction, "--planner", "rules", "--json")
    assert result.returncode == 1, result.stdout
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["ok"] is False and "does not understand" in output["reason"]
    assert all(abs(value) < 0.002 for value in output["final_positions"].values())


def test_two_runs_at_once_each_drive_their_own_graph():
    """Started with the same environment (the session's domain, where the module graph may
    run too): each `run` must bring up and command its own sim, never the other's."""
    env = {**os.environ, TAG: uuid.uuid4().hex}
    moves = {"elbow_joint": "elbow to 20 degrees", "wrist_1_joint": "wrist_1 to -15 degrees"}
    runs = {
        joint: subprocess.Popen(
            [*CLI, "run", text, "--json", "--planner", "rules"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for joint, text in moves.items()
    }
    targets = {"elbow_joint": math.radians(20), "wrist_1_joint": math.radians(-15)}
    for joint, run in runs.items():
        stdout, stderr = run.communicate(timeout=180)
        assert run.returncode == 0, stderr
        final = json.loads(stdout.strip().splitlines()[-1])["final_positions"]
        assert final[joint] == pytest.approx(targets[joint], abs=0.02)
        others = {j: v for j, v in final.items() if j != joint}
        assert all(abs(v) < 0.02 for v in others.values()), (joint, others)
    assert node_processes(env) == []


def test_run_out_of_limit_exits_non_zero_with_the_limit_in_the_reason(tmp_path):
    env = {**own_domain(), "TMPDIR": str(tmp_path)}
    result = llm_mas_ros("run", "elbow to 400 degrees", "--json", env=env)
    assert result.returncode == 3  # rejected
    (logs,) = tmp_path.glob("llm_mas_ros-*")  # kept on failure, and named
    assert f"logs are in {logs}" in result.stderr
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
    result = llm_mas_ros(
        "plan", "wrist_1 to 5 deg", "--file", str(file), "wrist_2 to 5 deg", "--json"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["instruction"] for line in lines] == [
        "wrist_1 to 5 deg",
        "wrist_2 to 5 deg",
        "elbow to 10 degrees",
        "go home",
    ]


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["plan", "make me a sandwich"], 1, "asks for nothing this robot can do"),
        (["plan", "make me a sandwich", "--planner", "rules"], 1, "names no agent or pose"),
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


@pytest.mark.parametrize("domain", ["abc", "250", "-1", "1e3"])
def test_an_unusable_ros_environment_is_one_line_not_a_traceback(domain):
    result = llm_mas_ros("say", "elbow to 1 deg", env={**own_domain(), "ROS_DOMAIN_ID": domain})
    assert result.returncode == 2
    assert f"ROS_DOMAIN_ID={domain!r} is not a ROS 2 domain id" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_cli_node_reads_the_package_fast_dds_profile(tmp_path):
    """Seen through a broken copy of the profile: Fast DDS reports the file it parses."""
    share = tmp_path / "share"
    for folder in ("config", "urdf"):
        shutil.copytree(Path(__file__).resolve().parents[2] / folder, share / folder)
    (share / "config" / "fastdds.xml").write_text("<dds><profiles>")
    env = {**own_domain(), "LLM_MAS_ROS_SHARE": str(share)}
    env.pop(FASTDDS_PROFILE_ENV)  # the test session sets it for its own processes
    result = llm_mas_ros("say", "elbow to 1 deg", "--ready-timeout", "0.5", env=env)
    assert "no planner on ROS_DOMAIN_ID" in result.stderr
    assert f"Error parsing '{share / 'config' / 'fastdds.xml'}'" in result.stderr


def test_say_talks_to_a_running_system(graph):
    result = llm_mas_ros("say", "wrist_2 to 15 degrees", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "planner: " in result.stdout and "ok (after" in result.stdout
    assert graph.positions()["wrist_2_joint"] == pytest.approx(math.radians(15), abs=0.02)


def test_ctrl_c_of_say_stops_the_instruction_it_sent(graph):
    """Like Ctrl-C of `ros2 action send_goal`, which cancels its goal."""
    say = subprocess.Popen(
        [*CLI, "say", "wrist_1 to 120 degrees slowly"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        for line in say.stdout:
            if "running step 1" in line:
                break
        say.send_signal(signal.SIGINT)
        assert say.wait(timeout=30) == 130, say.stderr.read()
        stderr = say.stderr.read()
        assert "stopped; joints at " in stderr and "wrist_1_joint=" in stderr, stderr
    finally:
        if say.poll() is None:
            say.kill()
    assert graph.wait_planner("stopped", timeout_s=5.0).instruction == "stop"
    held = graph.positions()["wrist_1_joint"]
    later = graph.joint_samples("wrist_1_joint", 125)  # half a second of sim steps
    assert later == pytest.approx([held] * len(later), abs=0.01)
    assert held < math.radians(120) - 0.2
    assert graph.run("wrist_1 to 0 degrees").ok


def test_a_replaced_instruction_is_reported_preempted_not_ok(graph):
    first = subprocess.Popen(
        [*CLI, "say", "shoulder_pan to 90 degrees slowly"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        for line in first.stdout:
            if "running step 1" in line:
                break
        second = llm_mas_ros("say", "shoulder_pan to 10 degrees", "--json", env=dict(os.environ))
        assert second.returncode == 0 and json.loads(second.stdout)["ok"], second.stdout
        assert first.wait(timeout=30) == 4, first.stderr.read()  # preempted
        verdict = first.stdout.read()
        assert (
            "preempted: replaced by instruction" in verdict
            and "shoulder_pan to 10 degrees" in verdict
        )
    finally:
        if first.poll() is None:
            first.kill()
    assert graph.positions()["shoulder_pan_joint"] == pytest.approx(math.radians(10), abs=0.02)
    assert graph.run("shoulder_pan to 0 degrees").ok


def test_say_timeout_stops_the_instruction_it_sent(graph):
    result = llm_mas_ros(
        "say", "wrist_3 to 150 degrees slowly", "--timeout", "2", "--json", env=dict(os.environ)
    )
    assert result.returncode == 5, result.stderr  # timed out
    output = json.loads(result.stdout)
    assert output["state"] == "timed out" and "stopped it" in output["reason"]
    assert graph.wait_planner("stopped", timeout_s=5.0).instruction == "stop"
    held = graph.positions()["wrist_3_joint"]
    later = graph.joint_samples("wrist_3_joint", 125)  # half a second of sim steps
    assert later == pytest.approx([held] * len(later), abs=0.01)
    assert held < math.radians(150) - 0.2
    assert graph.run("wrist_3 to 0 degrees").ok


def test_a_stop_that_took_effect_is_a_success(graph):
    result = llm_mas_ros("say", "stop", "--json", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["ok"] is True and output["state"] == "stopped"


def test_say_without_a_system_explains_itself_within_seconds():
    """Not 180 s of silence: a planner on the domain is found within PLANNER_DISCOVERY_S."""
    env = own_domain()
    result = llm_mas_ros("say", "elbow to 1 deg", env=env, timeout=30)
    domain = env["ROS_DOMAIN_ID"]
    assert result.returncode == 1, result.stderr
    assert f"no planner on ROS_DOMAIN_ID={domain}" in result.stderr
    assert "llm-mas-ros up" in result.stderr


@pytest.mark.parametrize("command", ["say", "run"])
def test_a_bad_instruction_fails_before_any_waiting(command):
    result = llm_mas_ros(command, "", timeout=10)  # no graph up, none started
    assert result.returncode == 1 and "empty instruction" in result.stderr


def test_up_then_say_then_ctrl_c_leaves_nothing_behind(tmp_path):
    env = own_domain()
    log = tmp_path / "up.log"  # the nodes' output: `up` passes it through
    with log.open("w") as stderr, running_up(env, stderr=stderr) as up:
        said = llm_mas_ros("say", "gripper open", "--json", env=env)
        assert said.returncode == 0 and json.loads(said.stdout)["ok"] is True
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0, log.read_text()[-2000:]
    assert node_processes(env) == []
    output = log.read_text()
    # Ctrl-C ends every node between callbacks: nothing is interrupted mid-callback.
    assert "FATAL" not in output and "Traceback" not in output, output[-2000:]


def test_ctrl_c_stops_up_even_when_started_with_sigint_ignored():
    """A shell's background job (`up &`, nohup) starts with SIGINT ignored; Ctrl-C / SIGINT
    must still stop `up` and its nodes."""
    env = own_domain()
    ignoring_sigint = ("sh", "-c", 'trap "" INT; exec "$@"', "sh")
    with running_up(env, "--planner", "rules", prefix=ignoring_sigint) as up:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
    assert wait_until_gone(env) == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP], ids=["SIGKILL", "SIGHUP"])
def test_the_nodes_stop_when_up_is_killed_or_its_terminal_closes(sig):
    """SIGHUP: `up` stops its nodes as on Ctrl-C. SIGKILL: `up` can do nothing, and its nodes,
    each in a session of its own, would live on under pid 1; they stop with it instead."""
    env = own_domain()
    with running_up(env, "--planner", "rules") as up:
        started = node_processes(env)
        assert len(started) == 3, started  # sim, agents, planner
        up.send_signal(sig)
        assert up.wait(timeout=30) == (1 if sig == signal.SIGHUP else -signal.SIGKILL)
    left = wait_until_gone(env)
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert left == []


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
    assert "asks for nothing" in lines[1]["reason"] and lines[1]["state"] == "failed"
    # One schema for every outcome: a failure carries the same fields as a plan.
    assert set(lines[1]) == set(lines[0]) and lines[0]["ok"] and not lines[1]["ok"]
    # No model call for an instruction in the agent language; its latency: planner_bench.py.
    assert lines[2]["planner"] == "fast-path:rules"
    assert lines[2]["steps"][0][0]["target"] == pytest.approx(math.radians(10), abs=1e-4)
    assert result.returncode == 1  # one instruction could not be planned
