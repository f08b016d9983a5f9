"""The runtime guard in front of the learned policy, and the choice of each agent's policy."""

import dataclasses
import math

import numpy as np
import pytest

from llm_mas_ros.core.control.agent import AgentGroup, Level
from llm_mas_ros.core.control.learned_policy import (
    LearnedPolicy,
    PolicyWeights,
    command_from_output,
    feature_count,
    forward,
    joint_scale,
    moving,
    observation_features,
    reference,
)
from llm_mas_ros.core.control.policies import MinimumJerkPolicy
from llm_mas_ros.core.control.policy_guard import GuardedPolicy, GuardSettings
from llm_mas_ros.core.planning.status import decode_agent, encode_agent
from llm_mas_ros.core.robot.model import PolicyKind, load_robot

ROBOT = load_robot()


def random_weights(seed=0, hidden=16, scale=0.3):
    rng = np.random.default_rng(seed)
    names = ROBOT.agent_names
    size = feature_count(len(names))
    f32 = np.float32
    return PolicyWeights(
        type_names=tuple(names),
        embedding_dim=0,
        output_scale=0.02,
        hidden=(
            (rng.normal(0, scale, (size, hidden)).astype(f32), np.zeros(hidden, f32)),
            (rng.normal(0, scale, (hidden, hidden)).astype(f32), np.zeros(hidden, f32)),
        ),
        film=(),
        output=(rng.normal(0, 0.01, (hidden, 1)).astype(f32), np.zeros(1, f32)),
    )


def robot_with(**control):
    return dataclasses.replace(ROBOT, control=dataclasses.replace(ROBOT.control, **control))


class Garbage:
    """A 'network' whose commands are `value` (NaN, out of range) or a jump of `jump` units."""

    def __init__(self, value=math.nan, jump=0.0):
        self.value, self.jump = value, jump

    def command(self, observation):
        self.base = MinimumJerkPolicy().act(observation)
        if self.jump:
            return observation.position + self.jump
        return np.full(observation.position.shape, self.value)


def guarded_group(source, rows, violations=3, window_s=1.0):
    agents = ROBOT.agents
    guard = GuardedPolicy(
        source,
        MinimumJerkPolicy(),
        rows,
        np.array([a.joint.velocity for a in agents]),
        1.0 / ROBOT.control.rate_hz,
        GuardSettings(violations, window_s),
        [a.joint.unit for a in agents],
    )
    group = AgentGroup(agents, ROBOT, guard)
    for core in group.cores:
        core.observe(0.1, 0.0, 0.0)
    return group, guard


@pytest.mark.parametrize(
    "source, why",
    [
        (Garbage(math.nan), "nan command"),
        (Garbage(50.0), "outside the limits"),
        (Garbage(jump=0.5), "beyond the velocity limit"),
    ],
)
def test_garbage_is_clipped_to_the_classical_command_then_the_agent_falls_back(source, why):
    rows = [agent.name == "elbow" for agent in ROBOT.agents]
    group, guard = guarded_group(source, rows, violations=3)
    elbow = group.core("elbow")
    elbow.receive_goal("move to 30 degrees", 0.0)
    classical = MinimumJerkPolicy()
    for tick in range(1, 3):
        commands = group.step(tick * 0.01).copy()
        expected = classical.act(group.observation)  # the observation of that tick
        assert np.all(np.isfinite(commands))
        assert commands[2] == pytest.approx(expected[2])  # the classical command this tick
    assert guard.violations[2] == 2 and elbow.status(0.03).policy == "learned"
    group.step(0.03)  # the third violation within the window: for good
    status = elbow.status(0.03)
    assert status.policy.startswith("classical (fallback: 3 guard violations within 1 s")
    assert why in status.policy.lower() and status.level is Level.WARN
    assert group.fallen_back() == [f"elbow: {elbow.fallback}"]
    decoded = decode_agent("elbow", status.level, status.message, dict(encode_agent(status)))
    assert decoded is not None and decoded.policy == status.policy
    others = [c.status(0.03) for c in group.cores if c.agent.name != "elbow"]
    assert all(s.policy == "classical" and s.level is Level.OK for s in others)
    before = guard.violations[2]
    group.step(0.04)
    assert guard.violations[2] == before  # no longer judged: it is classical now


def test_violations_spread_beyond_the_window_do_not_trip():
    rows = [agent.name == "elbow" for agent in ROBOT.agents]
    group, guard = guarded_group(Garbage(math.nan), rows, violations=3, window_s=0.02)
    group.core("elbow").receive_goal("move to 30 degrees", 0.0)
    for tick in range(1, 12):
        guard.learned_policy = Garbage(math.nan) if tick % 4 == 0 else Garbage(jump=1e-6)
        for core in group.cores:  # a state every tick: a stalled agent is not judged
            core.observe(0.1, 0.0, tick * 0.01)
        group.step(tick * 0.01)
    assert guard.violations[2] == 2 and not group.core("elbow").fallback


class Ramp:
    """A 'network' that moves from 0.1 at `rate` (rad/s) in segment time."""

    def __init__(self, rate):
        self.rate = rate

    def command(self, observation):
        self.base = MinimumJerkPolicy().act(observation)
        return 0.1 + self.rate * observation.elapsed_s


@pytest.mark.parametrize("fraction, violations", [(0.8, 0), (2.0, 10)])
def test_a_step_is_judged_over_the_time_since_the_last_command(fraction, violations):
    """Ticks 2.5 periods apart (a loaded machine): at 80% of the velocity limit each step is
    twice what one period allows and stands; at twice the limit every step is a violation."""
    rows = [agent.name == "elbow" for agent in ROBOT.agents]
    elbow_limit = ROBOT.agents[2].joint.velocity
    group, guard = guarded_group(Ramp(fraction * elbow_limit), rows, violations=100)
    group.core("elbow").receive_goal("move to 90 degrees slowly", 0.0)
    gap = 2.5 / ROBOT.control.rate_hz
    for tick in range(1, 11):
        for core in group.cores:
            core.observe(0.1, 0.0, tick * gap)
        command = group.step(tick * gap)[2]
    assert guard.violations[2] == violations
    if not violations:
        assert command == pytest.approx(0.1 + fraction * elbow_limit * 10 * gap)


def test_rows_without_state_or_under_estop_are_not_judged():
    group, guard = guarded_group(Garbage(math.nan), [True] * 7, violations=1)
    for core in group.cores:
        core.set_estop(True, 0.0)
    group.step(0.01)
    assert guard.violations.sum() == 0 and not group.fallen_back()


def test_each_agent_runs_the_policy_configured_for_it(tmp_path):
    path = tmp_path / "w.npz"
    random_weights().save(path)
    robot = robot_with(
        policy=PolicyKind.LEARNED,
        policy_overrides={"gripper": PolicyKind.CLASSICAL},
        policy_weights=str(path),
    )
    group = AgentGroup(robot.agents, robot)
    assert [c.status(0.0).policy for c in group.cores] == ["learned"] * 6 + ["classical"]
    assert group.guard is not None and list(group.guard.learned) == [True] * 6 + [False]
    for core in group.cores:
        core.observe(0.0, 0.0, 0.0)
    commands = group.step(0.01)
    assert commands is not None and np.all(np.isfinite(commands)) and not group.warnings


def test_the_learned_policy_is_the_default():
    group = AgentGroup(ROBOT.agents, ROBOT)
    assert group.guard is not None and not group.warnings
    assert {c.status(0.0).policy for c in group.cores} == {"learned"}


def test_classical_loads_nothing():
    group = AgentGroup(ROBOT.agents, robot_with(policy=PolicyKind.CLASSICAL))
    assert isinstance(group.policy, MinimumJerkPolicy) and group.guard is None
    assert {c.status(0.0).policy for c in group.cores} == {"classical"}


def test_unreadable_weights_fall_back_to_classical_with_a_warning(tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip")
    robot = robot_with(policy=PolicyKind.LEARNED, policy_weights=str(bad))
    group = AgentGroup(robot.agents, robot)
    assert isinstance(group.policy, MinimumJerkPolicy)
    assert len(group.warnings) == 1 and "cannot read policy weights" in group.warnings[0]
    status = group.core("elbow").status(0.0)
    assert status.policy.startswith("classical (fallback: learned policy unavailable")
    for core in group.cores:
        core.observe(0.0, 0.0, 0.0)
    assert group.step(0.01) is not None
    assert group.core("elbow").status(0.01).level is Level.WARN


def test_the_fast_command_is_the_reference_network():
    weights = random_weights(seed=3)
    group = AgentGroup(ROBOT.agents, ROBOT)
    for row, core in enumerate(group.cores):
        core.observe(0.05 * row, 0.1, 0.0)
    group.core("elbow").receive_goal("move to 45 degrees slowly", 0.0)
    group.core("wrist_1").receive_goal("wave 2 times in 2 s", 0.0)
    group.core("gripper").receive_goal("open quickly", 0.0)
    obs = group.observation
    for row, core in enumerate(group.cores):
        core.fill(row, obs, 0.3)
    policy = LearnedPolicy(weights, ROBOT.agent_names)
    _, half = joint_scale(obs.lower, obs.upper)
    features = observation_features(obs, policy.types, len(weights.type_names))
    base, _ = reference(obs)
    y = forward(weights, features, policy._no_text)
    expected = command_from_output(y, base, half, 0.02, obs.lower, obs.upper, moving(obs))
    assert moving(obs).sum() == 3  # the elbow, wrist_1 and the gripper are under way
    assert np.allclose(policy.command(obs), expected, atol=1e-6)


def test_the_robot_schema_reads_the_policy_keys(tmp_path):
    from llm_mas_ros.core.robot import param_files as P
    from llm_mas_ros.core.robot.model import default_config_files, robot_from_params

    params = dict(P.load_parameters(default_config_files()))
    params.update({"policy": "learned", "agents.gripper.policy": "classical"})
    control = robot_from_params(params, ROBOT.urdf_xml).control
    assert control.policy_of("elbow") is PolicyKind.LEARNED
    assert control.policy_of("gripper") is PolicyKind.CLASSICAL
    assert control.policy_weights_path().name == "agent_policy.npz"
    with pytest.raises(Exception, match="must be one of"):
        robot_from_params({**params, "policy": "magic"}, ROBOT.urdf_xml)


def test_policy_device_cpu_runs_numpy_and_cuda_runs_torch_on_the_gpu_or_says_why_not():
    cpu = AgentGroup(ROBOT.agents, ROBOT)
    assert isinstance(cpu.guard.learned_policy, LearnedPolicy) and not cpu.warnings
    pytest.importorskip("torch")
    from llm_mas_ros.core.control.torch_policy import TorchPolicy, cuda_available

    cuda = AgentGroup(ROBOT.agents, robot_with(policy_device="cuda"))
    available, why = cuda_available()
    network = cuda.guard.learned_policy
    if available:  # a GPU machine: torch there, the same commands
        assert isinstance(network, TorchPolicy) and network.device.type == "cuda"
    else:
        assert isinstance(network, LearnedPolicy)
        assert cuda.warnings == (f"policy_device cuda: {why}; the network runs on the CPU",)
    for group in (cpu, cuda):
        for core in group.cores:
            core.observe(0.0, 0.0, 0.0)
        group.core("elbow").receive_goal("move to 20 degrees", 0.0)
        for core in group.cores:
            core.observe(0.0, 0.0, 0.04)
    moving = cpu.step(0.05)
    assert np.isfinite(moving).all() and moving[2] != 0.0  # the elbow is under way
    assert np.allclose(moving, cuda.step(0.05), atol=1e-5)


def test_a_bad_policy_device_is_a_config_error():
    from llm_mas_ros.core.errors import ConfigError
    from llm_mas_ros.core.robot import param_files as P
    from llm_mas_ros.core.robot.model import default_config_files, robot_from_params

    params = P.load_parameters(default_config_files())
    params["policy_device"] = "tpu"
    with pytest.raises(ConfigError, match="policy_device"):
        robot_from_params(params)
