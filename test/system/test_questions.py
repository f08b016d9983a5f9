"""Questions get answers, not motion: `say` a question to a running graph and the answer comes
back from the live joint states, nothing moves, and what runs is not stopped."""

import collections
import json
import math
import os
import re
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "llm_mas_ros.cli"]
ELBOW_DEG = 30.0


def say(*args: str) -> subprocess.CompletedProcess:
    """`llm-mas-ros say` to the module's graph (on this session's domain)."""
    return subprocess.run(
        [*CLI, "say", *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def numbers(text: str) -> list[float]:
    return [float(n) for n in re.findall(r"[-+]?\d+(?:\.\d+)?", text)]


def states_the_elbow_at(answer: str | None, degrees: float) -> bool:
    """The answer names the elbow and gives its position, in degrees or radians."""
    radians = math.radians(degrees)
    return (
        answer is not None
        and "elbow" in answer.lower()
        and any(abs(n - degrees) < 1.5 or abs(n - radians) < 0.02 for n in numbers(answer))
    )


def settled(graph, tolerance: float = 1e-4, window: int = 50, messages: int = 2000):
    """The joints' positions once they agree within `tolerance` (rad or m) with those of
    `window` joint states before (0.2 s at 250 Hz): a motion just reported done may still
    settle by a few mrad, too slowly for two states in a row to tell (a shoulder drifted
    2.3 mrad back to its hold after the elbow moved)."""
    recent = collections.deque([graph.positions()], maxlen=window)
    for _ in range(messages):
        now = graph.positions()
        if len(recent) == window and all(
            abs(now[joint] - recent[0][joint]) < tolerance for joint in now
        ):
            return now
        recent.append(now)
    pytest.fail(f"the joints did not settle within {messages} joint states: {now}")


@pytest.fixture(scope="module")
def elbow_bent(graph):
    """The elbow at ELBOW_DEG (not home, so an answer must come from the live state)."""
    assert graph.run(f"elbow to {ELBOW_DEG:g} degrees").ok
    yield graph
    assert graph.run("elbow to 0 degrees").ok


def test_a_question_is_answered_from_the_live_state_and_moves_nothing(elbow_bent):
    before = settled(elbow_bent)
    result = say("where is the elbow?", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    output = json.loads(result.stdout)
    assert output["ok"] is True and output["state"] == "done", output
    assert states_the_elbow_at(output["answer"], ELBOW_DEG), output["answer"]
    assert output["steps"] == [] and output["rejected"] == []
    assert output["timings_ms"]["first_command"] is None  # no agent started a motion
    for positions in (output["final_positions"], elbow_bent.positions()):
        assert positions == pytest.approx(before, abs=0.002)


def test_say_prints_the_answer_for_a_person(elbow_bent):
    result = say("what poses do you know?")
    assert result.returncode == 0, result.stderr + result.stdout
    (answer,) = [line for line in result.stdout.splitlines() if line.startswith("answer: ")]
    assert all(pose in answer for pose in ("home", "ready", "stow")), answer
    assert "ok (after" in result.stdout
    assert "final positions" not in result.stdout  # an answer moved nothing


def test_a_question_does_not_stop_the_instruction_that_runs(elbow_bent):
    first = subprocess.Popen(
        [*CLI, "say", "shoulder_pan to 90 degrees slowly"],  # about 10 s of motion
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert any("running step 1" in line for line in first.stdout), first.stderr.read()
        question = say("where is the elbow?", "--json")
        assert question.returncode == 0, question.stderr + question.stdout
        assert first.poll() is None, f"it ended before the answer came: {first.stdout.read()}"
        assert states_the_elbow_at(json.loads(question.stdout)["answer"], ELBOW_DEG)
        stdout, stderr = first.communicate(timeout=60)
        assert first.returncode == 0, stderr + stdout  # done, not preempted
        assert "ok (after" in stdout, stdout
    finally:
        if first.poll() is None:
            first.kill()
    pan = elbow_bent.positions()["shoulder_pan_joint"]
    assert pan == pytest.approx(math.radians(90), abs=0.02)
    assert elbow_bent.run("shoulder_pan to 0 degrees").ok
