"""The learned policy: numpy inference equals the torch model it was exported from, batching
changes nothing, FiLM really reads the embedding, and the weights file round-trips."""

import dataclasses

import numpy as np
import pytest

from llm_mas_ros.core.control.learned_policy import (
    FEATURE_NAMES,
    LearnedPolicy,
    PolicyWeights,
    command_from_output,
    export_weights,
    forward,
    joint_scale,
    moving,
    observation_features,
    reference,
    residual_target,
    torch_model,
    type_rows,
)
from llm_mas_ros.core.control.policies import MinimumJerkPolicy, Observation
from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.language.agent_language import parse_subgoal
from llm_mas_ros.core.robot.model import RobotModel

torch = pytest.importorskip("torch")
EMBEDDING = 6


@pytest.fixture(scope="module")
def weights(arm: RobotModel) -> PolicyWeights:
    torch.manual_seed(0)
    model = torch_model(arm.agent_names, EMBEDDING, hidden=(32, 16))
    with torch.no_grad():  # FiLM starts at identity: give it weights so the test can see it
        for layer in [*model.gamma, *model.beta]:
            layer.weight.normal_(0.0, 0.5)
    return export_weights(model)


def observation(arm: RobotModel, seed: int = 0) -> Observation:
    rng = np.random.default_rng(seed)
    count = len(arm.agents)
    obs = Observation.zeros(count, EMBEDDING)
    obs.lower[:] = [a.joint.lower for a in arm.agents]
    obs.upper[:] = [a.joint.upper for a in arm.agents]
    obs.position[:] = rng.uniform(0.2, 0.8, count) * (obs.upper - obs.lower) + obs.lower
    obs.velocity[:] = rng.normal(0.0, 0.1, count)
    obs.segment_start[:] = obs.position
    obs.segment_target[:] = obs.position + 0.01
    obs.duration_s[:] = 1.5
    obs.elapsed_s[:] = 0.3
    for row, agent in enumerate(arm.agents[:-1]):
        goal = parse_subgoal("move to 20 degrees in 1.5 s gently", agent)
        obs.set_goal(row, goal, 0.35, rng.normal(size=EMBEDDING).astype(np.float32))
    return obs


def test_numpy_inference_equals_the_torch_forward(arm: RobotModel):
    torch.manual_seed(1)
    model = torch_model(arm.agent_names, EMBEDDING, hidden=(32, 16))
    with torch.no_grad():
        for layer in [*model.gamma, *model.beta]:
            layer.weight.normal_(0.0, 0.5)
    weights = export_weights(model)
    obs = observation(arm)
    features = observation_features(obs, type_rows(arm.agent_names, arm.agent_names), 7)
    with torch.no_grad():
        expected = model(torch.from_numpy(features), torch.from_numpy(obs.goal_embedding)).numpy()
    assert np.allclose(forward(weights, features, obs.goal_embedding), expected, atol=1e-5)


def test_features_have_no_nan_and_mark_the_agent_type(arm: RobotModel):
    obs = observation(arm)
    obs.clear_goal(2)
    features = observation_features(obs, type_rows(arm.agent_names, arm.agent_names), 7)
    assert features.shape == (7, len(FEATURE_NAMES) + 7) and np.isfinite(features).all()
    assert np.array_equal(features[:, len(FEATURE_NAMES) :], np.eye(7))


def test_a_batch_gives_the_rows_of_one_by_one_calls(arm: RobotModel, weights: PolicyWeights):
    obs = observation(arm)
    batched = LearnedPolicy(weights, arm.agent_names).act(obs)
    for row, agent in enumerate(arm.agents):
        single = Observation(
            **{name: getattr(obs, name)[row : row + 1] for name in obs.__dataclass_fields__}
        )
        alone = LearnedPolicy(weights, [agent.name]).act(single)
        assert alone[0] == pytest.approx(batched[row], abs=1e-6)
    assert np.all((batched >= obs.lower) & (batched <= obs.upper))


def test_film_reads_the_embedding(arm: RobotModel, weights: PolicyWeights):
    policy = LearnedPolicy(weights, arm.agent_names)
    obs = observation(arm)
    before = policy.raw(obs)
    obs.goal_embedding[0] += 1.0
    after = policy.raw(obs)
    assert abs(after[0] - before[0]) > 1e-4
    assert np.array_equal(after[1:], before[1:])


def test_the_residual_label_inverts_the_command(arm: RobotModel, weights: PolicyWeights):
    obs = observation(arm)
    policy = LearnedPolicy(weights, arm.agent_names)
    command = policy.command(obs).copy()
    base, _ = reference(obs)
    label = residual_target(command, base, obs.lower, obs.upper, weights.output_scale)
    inside = (command > obs.lower) & (command < obs.upper)  # not saturated at a limit
    assert inside.sum() >= 5
    assert np.allclose(label[inside], policy.raw(obs)[inside], atol=1e-4)


def test_the_command_saturates_at_the_limits(arm: RobotModel, weights: PolicyWeights):
    """A residual that leans past a limit stops at it (the gripper's fixture row above)."""
    obs = observation(arm)
    loud = dataclasses.replace(weights, output=(weights.output[0] * 1e3, weights.output[1]))
    policy = LearnedPolicy(loud, arm.agent_names)
    base, _ = reference(obs)
    _, half = joint_scale(obs.lower, obs.upper)
    unbounded = base + weights.output_scale * half * policy.raw(obs)
    assert ((unbounded > obs.upper) | (unbounded < obs.lower)).any()
    assert np.allclose(policy.command(obs), np.clip(unbounded, obs.lower, obs.upper), atol=1e-5)


def test_a_zero_output_is_the_classical_controller(arm: RobotModel, weights: PolicyWeights):
    """The residual's base: with the output layer zeroed the network commands exactly what
    the minimum-jerk controller does, at every phase."""
    zero = dataclasses.replace(
        weights, output=(np.zeros_like(weights.output[0]), np.zeros_like(weights.output[1]))
    )
    obs = observation(arm)
    policy, trained = LearnedPolicy(zero, arm.agent_names), LearnedPolicy(weights, arm.agent_names)
    for elapsed in (0.0, 0.4, 1.5, 3.0):
        obs.elapsed_s[:] = elapsed
        classical = MinimumJerkPolicy().act(obs)
        assert np.array_equal(policy.act(obs), classical)
        trained.command(obs)
        assert np.array_equal(trained.base, classical)  # the base it computes along, exactly


def test_when_no_joint_moves_the_network_is_not_run(arm: RobotModel, weights: PolicyWeights):
    """Holding (and at the end of a segment) the residual is off on every row: the fast path
    returns the classical command it computed, without the network; one moving row runs it
    for all, and only that row gets a residual."""
    obs = observation(arm)
    policy = LearnedPolicy(weights, arm.agent_names)
    for elapsed in (0.0, 1.5, 3.0):  # not started, just ended, long ended: nothing moves
        obs.elapsed_s[:] = elapsed
        command = policy.command(obs)
        assert command is policy.base and np.array_equal(command, MinimumJerkPolicy().act(obs))
    obs.elapsed_s[2] = 0.4
    command = policy.command(obs)
    assert command is not policy.base
    moved = command != MinimumJerkPolicy().act(obs)
    assert moved[2] and not np.delete(moved, 2).any()


def test_a_new_goal_refreshes_what_the_fast_path_caches(arm: RobotModel, weights: PolicyWeights):
    obs = observation(arm)
    policy = LearnedPolicy(weights, arm.agent_names)
    before = policy.command(obs).copy()
    goal = parse_subgoal("move to 60 degrees quickly", arm.agents[0])
    obs.set_goal(0, goal, 1.0, np.ones(EMBEDDING, dtype=np.float32))
    after = policy.command(obs)
    assert after[0] != pytest.approx(before[0], abs=1e-6)
    _, half = joint_scale(obs.lower, obs.upper)
    expected = command_from_output(
        policy.raw(obs),
        reference(obs)[0],
        half,
        weights.output_scale,
        obs.lower,
        obs.upper,
        moving(obs),
    )
    assert np.allclose(after, expected, atol=1e-6)


def test_weights_load_by_feature_name(tmp_path, arm: RobotModel, weights: PolicyWeights):
    """A weights file trained before a feature existed loads with that feature unseen (a zero
    row); one that needs a feature this code lacks is refused with its name."""
    path = tmp_path / "policy.npz"
    weights.save(path)
    with np.load(path) as data:
        arrays = dict(data)
    dropped = list(FEATURE_NAMES).index("reference_velocity")
    older = dict(arrays)
    older["feature_names"] = np.delete(arrays["feature_names"], dropped)
    older["hidden0_w"] = np.delete(arrays["hidden0_w"], dropped, axis=0)
    np.savez(tmp_path / "older.npz", **older)
    loaded = PolicyWeights.load(tmp_path / "older.npz")
    assert not loaded.hidden[0][0][dropped].any()
    others = [row for row in range(len(FEATURE_NAMES)) if row != dropped]
    assert np.array_equal(loaded.hidden[0][0][others], weights.hidden[0][0][others])
    newer = dict(arrays)
    newer["feature_names"] = np.array([*arrays["feature_names"][:-1], "crystal_ball"])
    np.savez(tmp_path / "newer.npz", **newer)
    with pytest.raises(ConfigError, match="crystal_ball"):
        PolicyWeights.load(tmp_path / "newer.npz")


def test_weights_round_trip_through_npz(tmp_path, arm: RobotModel, weights: PolicyWeights):
    path = tmp_path / "policy.npz"
    weights.save(path)
    loaded = PolicyWeights.load(path)
    obs = observation(arm)
    names = arm.agent_names
    assert np.array_equal(
        LearnedPolicy(loaded, names).act(obs), LearnedPolicy(weights, names).act(obs)
    )
    assert loaded.type_names == names and path.stat().st_size < 50_000
