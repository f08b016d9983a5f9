"""Agents without ROS: goals, holding, estop, stale state, completion, one batched step."""

import math

import numpy as np
import pytest

from llm_mas_ros.core.control.agent import AgentGroup, AgentState, Level
from llm_mas_ros.core.control.policies import (
    GOAL_SLOTS,
    SKILL_CODES,
    STYLE_CODES,
    MinimumJerkPolicy,
    Observation,
    minimum_jerk_fraction,
)
from llm_mas_ros.core.language.agent_language import STYLE_WORDS, Skill


def make_group(arm, encoder=None):
    """The agents on the classical controller (what they do, whatever the policy; the learned
    policy's own tests are test_policy_guard and test_manner)."""
    group = AgentGroup(arm.agents, arm, MinimumJerkPolicy(), encoder)
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
    elbow = group.core("elbow")
    elbow.receive_goal(garbage, 0.0)
    status = elbow.status(0.0)
    assert status.level is Level.ERROR and status.error
    # The status names the refused goal, whatever it was, and the joint holds where it was.
    assert status.goal == (garbage if isinstance(garbage, str) else repr(garbage))
    assert status.goal_count == 1 and status.target == 0.0
    assert group.step(0.01)[group.cores.index(elbow)] == 0.0


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


def test_a_goal_before_any_joint_state_waits_for_it_and_starts_from_there(arm):
    """A restarted agent hears its standing goal at discovery, often before /joint_states."""
    group = AgentGroup(arm.agents, arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 10 deg", 0.0)
    status = elbow.status(0.0)
    assert (status.state, status.goal, status.goal_count, status.error) == (
        AgentState.WAITING,
        "move to 10 deg",
        1,
        "",
    )
    assert group.step(0.0) is None  # nobody can act yet
    elbow.observe(0.25, 0.0, 0.1)
    assert elbow.state is AgentState.MOVING and elbow.motion.start == pytest.approx(0.25)
    assert elbow.goal_received_at == 0.0
    commands = group.step(0.1)
    assert commands[2] == pytest.approx(0.25)  # from the measured position: no jump
    track(group, 0.1 + elbow.motion.duration_s + 0.05, start=0.1)
    assert elbow.state is AgentState.DONE and elbow.position == pytest.approx(math.radians(10))


def test_a_hold_before_any_joint_state_holds_where_the_first_state_says(arm):
    group = AgentGroup(arm.agents, arm)
    wrist = group.core("wrist_1")
    wrist.receive_goal("hold", 0.0)
    wrist.observe(0.7, 0.0, 0.2)
    assert wrist.state is AgentState.HOLDING and wrist.error == ""
    assert group.step(0.2)[3] == pytest.approx(0.7)


def test_a_goal_before_any_joint_state_under_an_estop_is_refused(arm):
    group = AgentGroup(arm.agents, arm)
    elbow = group.core("elbow")
    elbow.set_estop(True, 0.0)
    elbow.receive_goal("move to 10 deg", 0.0)
    assert elbow.state is AgentState.ESTOP and "emergency stop" in elbow.error
    elbow.observe(0.25, 0.0, 0.1)
    assert elbow.state is AgentState.ESTOP and elbow.motion.target == pytest.approx(0.25)


PERIOD_S = 0.01  # the arm fixture's control period (100 Hz)


def test_a_stall_of_a_few_periods_holds_reports_warn_and_resumes_without_a_jump(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 45 degrees", 0.0)
    now = track(group, 0.3)
    last = elbow.command
    stall_s = arm.control.state_timeout_periods * PERIOD_S
    # No state for a little less than the stall: nothing changes; a little more: stalled.
    assert elbow.last_state_at == now
    assert not group.watch(now + stall_s - 1e-3)
    assert group.watch(now + stall_s + 1e-3)
    assert not group.watch(now + 0.1)  # still stalled: no new change
    status = elbow.status(now + 0.1)
    assert status.state is AgentState.MOVING and status.level is Level.WARN
    assert status.message.startswith("stalled: no joint state for ") and "ms" in status.message
    assert all(math.isnan(c) for c in group.step(now + 0.1))  # nothing is sent
    # States return well within state_timeout_s: the motion goes on from its last command.
    resumed = now + 0.2
    for core in group.cores:
        core.observe(core.position, 0.0, resumed)
    commands = group.step(resumed)
    assert abs(commands[2] - last) < 0.01 and commands[2] >= last  # on, from where it was
    assert elbow.status(resumed).level is Level.OK and elbow.state is AgentState.MOVING
    end = resumed + elbow.motion.duration_s
    track(group, end, start=resumed + PERIOD_S)
    assert elbow.state is AgentState.DONE and elbow.position == pytest.approx(math.pi / 4)


def test_no_stall_phase_with_zero_periods(arm):
    from dataclasses import replace

    robot = replace(arm, control=replace(arm.control, state_timeout_periods=0))
    group = AgentGroup(robot.agents, robot)
    for core in group.cores:
        core.observe(0.0, 0.0, 0.0)
    assert not group.watch(robot.control.state_timeout_s - 0.01)
    assert group.watch(robot.control.state_timeout_s + 0.01)
    assert group.core("elbow").lost


def test_a_lost_state_fails_the_goal_sends_nothing_and_re_holds_at_the_next_state(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 45 degrees", 0.0)
    now = track(group, 0.3)
    lost_at = now + arm.control.state_timeout_s + 0.05
    assert group.watch(lost_at)
    assert elbow.state is AgentState.ERROR and "no joint state for" in elbow.error
    assert elbow.status(lost_at).level is Level.STALE
    assert all(math.isnan(c) for c in group.step(lost_at + 0.1))
    # A restarted simulator: the joint is back at its start pose. Hold there, do not drive
    # it back to where the old one was.
    for core in group.cores:
        core.observe(-0.2, 0.0, lost_at + 1.0)
    commands = group.step(lost_at + 1.0)
    assert commands[2] == pytest.approx(-0.2)
    assert elbow.state is AgentState.ERROR  # the failed goal stays failed until the next
    assert elbow.status(lost_at + 1.0).level is Level.ERROR
    elbow.receive_goal("move to 10 deg", lost_at + 1.0)
    assert elbow.state is AgentState.MOVING and elbow.motion.start == pytest.approx(-0.2)


def test_a_goal_heard_while_stalled_starts_when_states_return(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    assert group.watch(0.1)  # stalled from 0.03 s
    elbow.receive_goal("move to 45 degrees", 0.2)
    assert elbow.state is AgentState.MOVING
    for core in group.cores:
        core.observe(0.0, 0.0, 0.4)
    assert group.step(0.4)[2] == pytest.approx(0.0)  # its clock starts now, not at 0.2 s


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


# --- the goal slots of the observation ----------------------------------------------------------


class CountingEncoder:
    """A stand-in for a text encoder: records every manner it embeds."""

    dim = 4

    def __init__(self):
        self.texts = []

    def encode(self, manner):
        self.texts.append(manner)
        return np.full(self.dim, len(self.texts), dtype=np.float32)

    def speed_fraction(self, embedding):
        raise AssertionError("a classical agent takes its tempo from the style")


def goal_row(group, name):
    row = [core.agent.name for core in group.cores].index(name)
    return {slot: getattr(group.observation, slot)[row] for slot in GOAL_SLOTS}


def snapshot(observation):
    return {slot: getattr(observation, slot).copy() for slot in (*GOAL_SLOTS, "goal_embedding")}


def test_no_goal_means_no_slots_and_no_embedding_columns(arm):
    group = make_group(arm)
    assert all(np.isnan(getattr(group.observation, slot)).all() for slot in GOAL_SLOTS)
    assert group.observation.goal_embedding.shape == (len(arm.agents), 0)


def test_an_accepted_goal_fills_its_agent_slots_once(arm):
    group = make_group(arm)
    group.core("elbow").receive_goal("move to 45 degrees in 2 s gently", 0.0)
    group.core("wrist_3").receive_goal("wave by 10 degrees 3 times", 0.0)
    elbow = goal_row(group, "elbow")
    assert elbow["goal_skill"] == SKILL_CODES.index(Skill.MOVE_TO)
    assert elbow["goal_target"] == pytest.approx(math.pi / 4)
    assert elbow["goal_duration_s"] == 2.0
    assert elbow["goal_style"] == STYLE_CODES.index("gently")
    assert np.isnan(elbow["goal_amplitude"]) and np.isnan(elbow["goal_repetitions"])
    wave = goal_row(group, "wrist_3")
    assert wave["goal_skill"] == SKILL_CODES.index(Skill.WAVE)
    assert (
        wave["goal_amplitude"] == pytest.approx(math.radians(10)) and wave["goal_repetitions"] == 3
    )
    assert wave["goal_target"] == 0.0  # a wave ends where it started
    assert np.isnan(wave["goal_duration_s"]) and np.isnan(wave["goal_style"])
    assert all(np.isnan(value) for value in goal_row(group, "shoulder_pan").values())
    # Ticks rewrite the state, never the goal.
    before = snapshot(group.observation)
    track(group, 0.5)
    for slot, values in snapshot(group.observation).items():
        np.testing.assert_array_equal(values, before[slot], err_msg=slot)


def test_a_move_by_slot_holds_the_absolute_target(arm):
    group = make_group(arm)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 20 degrees", 0.0)
    now = track(group, elbow.motion.duration_s + 0.05)
    elbow.receive_goal("move by 10 degrees quickly", now)
    slots = goal_row(group, "elbow")
    assert slots["goal_skill"] == SKILL_CODES.index(Skill.MOVE_BY)
    assert slots["goal_target"] == pytest.approx(math.radians(30))
    assert slots["goal_style"] == STYLE_CODES.index("quickly")


def test_goal_slots_are_cleared_when_the_agent_holds_without_a_goal(arm):
    encoder = CountingEncoder()
    group = make_group(arm, encoder)
    elbow = group.core("elbow")
    row = group.cores.index(elbow)
    elbow.receive_goal("move to 45 degrees", 0.0)
    elbow.receive_goal("move to 400 degrees", 0.1)  # refused
    assert all(np.isnan(value) for value in goal_row(group, "elbow").values())
    assert not group.observation.goal_embedding[row].any()
    elbow.receive_goal("move to 45 degrees", 0.2)
    elbow.set_estop(True, 0.3)
    assert np.isnan(goal_row(group, "elbow")["goal_skill"])
    assert not group.observation.goal_embedding[row].any()
    elbow.set_estop(False, 0.4)
    elbow.receive_goal("hold", 0.5)  # a hold asked for is a goal
    assert goal_row(group, "elbow")["goal_skill"] == SKILL_CODES.index(Skill.HOLD)
    group.step(0.5 + arm.control.state_timeout_s + 0.1)  # joint states lost
    assert np.isnan(goal_row(group, "elbow")["goal_skill"])


def test_the_encoder_runs_once_per_accepted_goal_never_per_tick(arm):
    encoder = CountingEncoder()
    group = make_group(arm, encoder)
    elbow = group.core("elbow")
    row = group.cores.index(elbow)
    assert group.observation.goal_embedding.shape == (len(arm.agents), encoder.dim)
    assert group.observation.goal_embedding.dtype == np.float32
    elbow.receive_goal("move to 45 degrees gingerly", 0.0)
    now = track(group, 0.5)
    elbow.receive_goal("move to 400 degrees hastily", now)  # parsed, embedded, then refused
    elbow.receive_goal("move to 4OO degrees", now)  # unparsable: nothing to embed
    elbow.receive_goal("move to 10 degrees", now)  # no manner words: embedded as ""
    track(group, now + 0.5, start=now)
    assert encoder.texts == ["gingerly", "hastily", ""]
    np.testing.assert_array_equal(group.observation.goal_embedding[row], np.full(4, 3.0))
    assert not np.delete(group.observation.goal_embedding, row, axis=0).any()


def test_goal_slots_leave_the_classical_commands_unchanged(arm):
    """The same goals with and without an encoder: the minimum-jerk policy reads no slot."""

    def commands(encoder):
        group = make_group(arm, encoder)
        group.core("elbow").receive_goal("move to 45 degrees in 1 s", 0.0)
        group.core("wrist_3").receive_goal("wave 2 times", 0.0)
        sent, now = [], 0.0
        for _ in range(150):
            sent.append(group.step(now).copy())
            for core, command in zip(group.cores, sent[-1], strict=True):
                core.observe(command, 0.0, now + 0.01)
            now = round(now + 0.01, 9)
        return np.array(sent)

    np.testing.assert_array_equal(commands(CountingEncoder()), commands(None))


def test_every_style_word_has_a_style_code():
    assert sorted(STYLE_CODES) == sorted(set(STYLE_WORDS.values()))
    assert len(SKILL_CODES) == len(Skill)
