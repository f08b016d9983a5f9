"""The arm as a PettingZoo ParallelEnv: the library's own API test, seeding, and an expert
(the classical minimum-jerk controller) that reaches its goals and out-scores a frozen policy."""

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from llm_mas_ros.core.control.learned_policy import FEATURE_NAMES
from llm_mas_ros.core.robot.model import JointType, RobotModel
from llm_mas_ros.core.sim.multi_agent_env import ArmTeamEnv


class WordHashEncoder:
    """A stand-in text encoder: each word adds a fixed random vector."""

    dim = 8

    def encode(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in text.split():
            vector += np.random.default_rng(sum(map(ord, word))).normal(size=self.dim)
        return vector.astype(np.float32)


@pytest.fixture(scope="module")
def env(arm: RobotModel) -> ArmTeamEnv:
    return ArmTeamEnv(arm, encoder=WordHashEncoder())


def run(env: ArmTeamEnv, policy) -> float:
    total = 0.0
    while env.agents:
        _, rewards, _, _, _ = env.step(policy())
        assert len(set(rewards.values())) == 1  # one team reward
        total += next(iter(rewards.values()))
    return total


def test_pettingzoo_parallel_api(arm: RobotModel):
    parallel_api_test(ArmTeamEnv(arm, embedding_dim=4, max_motion_s=1.0), num_cycles=200)


def test_spaces_say_the_layout_and_the_limits(env: ArmTeamEnv):
    assert env.possible_agents == [
        "shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"
    ]  # fmt: skip
    size = len(FEATURE_NAMES) + len(env.possible_agents) + WordHashEncoder.dim
    assert env.observation_space("elbow").shape == (size,)
    gripper = env.action_space("gripper")
    assert (
        gripper.shape == (1,) and gripper.low[0] == 0.0 and gripper.high[0] == pytest.approx(0.04)
    )


def test_seeded_reset_and_steps_repeat_exactly(env: ArmTeamEnv):
    def episode(seed: int) -> tuple[dict, list]:
        obs, infos = env.reset(seed=seed)
        trace = [obs["elbow"]]
        for _ in range(20):
            obs, rewards, *_ = env.step(env.expert_actions())
            trace += [obs["wrist_1"], rewards["gripper"]]
        return {n: i["goal"] for n, i in infos.items()}, trace

    goals, trace = episode(7)
    again_goals, again = episode(7)
    other_goals, _ = episode(8)
    assert goals == again_goals and goals != other_goals
    assert all(np.array_equal(a, b) for a, b in zip(trace, again, strict=True))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_expert_reaches_every_goal(env: ArmTeamEnv, seed: int):
    _, infos = env.reset(seed=seed)
    assert all(info["error"] == "" for info in infos.values())  # every sampled goal is valid
    run(env, env.expert_actions)
    prismatic = [a.joint.kind is JointType.PRISMATIC for a in env.robot.agents]
    tolerance = np.where(prismatic, 0.001, 0.01)  # 1 mm, 0.01 rad
    assert np.all(env.final_errors() < tolerance)


def test_goals_can_be_given(env: ArmTeamEnv):
    goals = {name: "hold" for name in env.possible_agents} | {"elbow": "move to 30 degrees"}
    obs, infos = env.reset(seed=0, options={"goals": goals})
    assert infos["elbow"]["goal"] == "move to 30 degrees"
    assert np.any(obs["elbow"][-WordHashEncoder.dim :] != obs["wrist_1"][-WordHashEncoder.dim :])
    run(env, env.expert_actions)
    assert abs(env.sim.positions[2] - np.radians(30)) < 0.01


def test_the_expert_scores_higher_than_a_frozen_policy(env: ArmTeamEnv):
    for seed in (3, 4):
        env.reset(seed=seed)
        expert = run(env, env.expert_actions)
        env.reset(seed=seed)
        start = {n: env.sim.positions[i : i + 1] for i, n in enumerate(env.possible_agents)}
        frozen = run(env, lambda start=start: start)
        assert expert > frozen
