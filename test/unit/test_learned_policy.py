"""The learned policy: numpy inference equals the torch model it was exported from, batching
changes nothing, FiLM really reads the embedding, and the weights file round-trips."""

import numpy as np
import pytest

from llm_mas_ros.core.control.learned_policy import (
    FEATURE_NAMES,
    LearnedPolicy,
    PolicyWeights,
    export_weights,
    forward,
    observation_features,
    residual_target,
    torch_model,
    type_rows,
)
from llm_mas_ros.core.control.policies import Observation
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
    command = policy.act(obs)
    label = residual_target(command, obs.position, obs.lower, obs.upper, weights.output_scale)
    assert np.allclose(label, policy.raw(obs), atol=1e-4)


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
