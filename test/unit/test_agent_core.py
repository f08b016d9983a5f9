"""Agents without ROS: goals, holding, estop, stale state, completion, one batched step."""

import math

import numpy as np
import pytest

from llm_mas_ros.core.control.agent import AgentGroup, AgentState, Level
from llm_mas_ros.core.control.policies import MinimumJerkPolicy, Observation, minimum_jerk_fraction


def make_group(arm):
    group = AgentGroup(arm.agents, arm)
    for core in group.cores:
        core.observe(0.0, 0.0, now=0.0)
    return group


def track(group, until, start=0.0, dt=0.01, lag=1.0):
    """Play a perfect (lag=1) or lagging joint: position moves toward each command."""
    now = start
    while now < until - 1e-9:
        commands = group.step(now)
        for core, command in zip(group.cores, commands, strict=True):
            if core.state is not AgentState.WAITING:
                core.observe(core.position + lag * (command - core.position), 0.0, now + dt)
        now = round(now + dt, 9)
    return now


def test_a_goal_moves_the_joint_and_reports_done(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 45 degrees", 0.0)
    assert elbow.state is AgentState.MOVING and elbow.status(0.0).goal_count == 1
    track(group, elbow.motion.duration_s + 0.05)
    assert elbow.state is AgentState.DONE and elbow.position == pytest.approx(math.pi / 4)
    assert elbow.status(2.0).progress == 1.0 and elbow.first_command_at == 0.0
    assert all(core.position == 0.0 for core in group.cores if core is not elbow)


def test_a_bad_goal_holds_the_joint_and_says_why(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 20 degrees", 0.0)
    now = track(group, 0.2)
    moving_at = elbow.command
    elbow.receive_goal("move to 400 degrees", now)
    status = elbow.status(now)
    assert (status.state, status.level) == (AgentState.ERROR, Level.ERROR)
    assert "limits" in status.message and status.goal == "move to 400 degrees"
    commands = group.step(now + 0.01)
    assert commands[2] == pytest.approx(moving_at)  # holds where it was commanded, no jump


@pytest.mark.parametrize(
    "garbage", ["", "x" * 1_000_000, "nan", "to nan deg", "tentacle", None, 3.5]
)
def test_garbage_goals_never_raise_and_always_report_an_error(arm, garbage):
    group = make_group(arm)
    group.core("elbow").receive_goal(garbage, 0.0)
    status = group.core("elbow").status(0.0)
    assert status.level is Level.ERROR and status.error
    assert len(status.goal) < 2_000_000


def test_estop_freezes_at_once_and_refuses_goals_until_released(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 90 degrees", 0.0)
    now = track(group, 0.5)
    elbow.observe(elbow.command - 0.05, 0.0, now)  # the joint lags its command
    for core in group.cores:
        core.set_estop(True, now)
    frozen = elbow.position
    now = track(group, now + 0.5, start=now)
    assert elbow.state is AgentState.ESTOP and elbow.command == pytest.approx(frozen)
    elbow.receive_goal("move to 10 degrees", now)
    assert elbow.state is AgentState.ESTOP and "emergency stop" in elbow.error
    for core in group.cores:
        core.set_estop(False, now)
    assert elbow.state is AgentState.HOLDING
    elbow.receive_goal("move to 10 degrees", now)
    assert elbow.state is AgentState.MOVING


def test_losing_joint_states_holds_and_reports(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 45 degrees", 0.0)
    track(group, 0.3)
    silent_until = 0.3 + arm.control.state_timeout_s + 0.1
    group.step(silent_until)
    assert elbow.state is AgentState.ERROR and "no joint state" in elbow.error
    assert elbow.status(silent_until).level in (Level.STALE, Level.ERROR)


def test_goal_before_any_joint_state_is_refused(arm):
    group = AgentGroup(arm.agents, arm)
    group.core("elbow").receive_goal("move to 10 deg", 0.0)
    assert group.core("elbow").state is AgentState.ERROR
    assert "no joint state" in group.core("elbow").error
    assert group.step(0.0) is None  # nobody can act yet
    group.core("elbow").observe(0.25, 0.0, 0.1)
    commands = group.step(0.1)
    assert commands[2] == pytest.approx(0.25) and group.core("elbow").state is AgentState.ERROR


def test_a_joint_that_does_not_arrive_fails_after_the_settle_time(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 45 degrees", 0.0)
    end = elbow.motion.duration_s + arm.control.settle_timeout_s + 0.1
    track(group, end, lag=0.0)  # a stuck joint: never follows its command
    assert elbow.state is AgentState.ERROR and "did not reach target" in elbow.error


def test_wave_returns_to_where_it_started(arm):
    group = make_group(arm)
    wrist = group.core("wrist_3")
    wrist.receive_goal("wave 2 times", 0.0)
    assert len(wrist.motion.segments) == 5
    track(group, wrist.motion.duration_s + 0.1)
    assert wrist.state is AgentState.DONE and wrist.position == pytest.approx(0.0, abs=1e-6)


def test_control_rate_decimates_joint_states(arm):
    group = make_group(arm)
    assert group.due(0.0)
    group.step(0.0)
    assert not group.due(0.004) and not group.due(0.0099) and group.due(0.01)


def tick_rate(group, stamps):
    """Control ticks per second when joint states arrive at `stamps` (s), as in the node."""
    ticks = 0
    for now in stamps:
        if group.due(now):
            group.step(now)
            ticks += 1
    return ticks / (stamps[-1] - stamps[0])


@pytest.mark.parametrize("jitter_s", [0.0, 0.0015])
def test_ticks_keep_the_configured_rate_on_a_faster_state_stream(arm, jitter_s):
    group = make_group(arm)
    rng = np.random.default_rng(7)
    # 2 s of 250 Hz joint states (sim.yaml), each late by up to `jitter_s`.
    stamps = np.sort(np.arange(0.0, 2.0, 0.004) + rng.uniform(0.0, jitter_s, 500))
    assert arm.control.rate_hz == 100.0
    assert tick_rate(group, stamps) == pytest.approx(100.0, rel=0.02)


def test_ticks_follow_a_slower_state_stream_without_bursts(arm):
    group = make_group(arm)
    stamps = np.arange(0.0, 2.0, 0.02)  # 50 Hz states: every one is a tick, never two
    assert tick_rate(group, stamps) == pytest.approx(50.0, rel=0.02)
    group.step(10.0)  # after a pause the grid restarts instead of catching up
    assert not group.due(10.005) and group.due(10.01)


def test_an_off_grid_step_leaves_the_grid_alone(arm):
    group = make_group(arm)
    group.step(0.0)
    group.step(0.003)  # an e-stop acts at once
    assert group.due(0.01)


def test_style_words_set_the_duration_of_the_same_move(arm):
    def duration(goal):
        core = make_group(arm).core("shoulder_pan")
        core.receive_goal(goal, 0.0)
        assert core.state is AgentState.MOVING, core.error
        return core.motion.duration_s

    plain = duration("move to 90 degrees")
    styled = {
        word: duration(f"move to 90 degrees {word}") for word in ("slowly", "gently", "quickly")
    }
    assert styled["slowly"] > styled["gently"] > plain > styled["quickly"]
    # Each style is its share of the velocity limit (robot.yaml speed_fraction).
    fractions = arm.control.speed_fraction
    for word, seconds in styled.items():
        assert plain / seconds == pytest.approx(fractions[word] / fractions["default"])


def test_minimum_jerk_profile_is_smooth_and_batched():
    phase = np.linspace(0, 1, 101)
    fraction = minimum_jerk_fraction(phase)
    assert fraction[0] == 0 and fraction[-1] == 1 and fraction[50] == pytest.approx(0.5)
    assert np.all(np.diff(fraction) >= 0)
    observation = Observation.zeros(3)
    observation.segment_target[:] = [1.0, -1.0, 5.0]
    observation.elapsed_s[:] = [0.5, 2.0, 1.0]
    observation.duration_s[:] = [1.0, 1.0, 0.0]
    observation.upper[:] = [10, 10, 2.0]
    commands = MinimumJerkPolicy().act(observation)
    assert commands == pytest.approx([0.5, -1.0, 2.0])  # mid-way, finished, clipped to limit
