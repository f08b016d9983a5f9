"""The arm as a PettingZoo ParallelEnv: the library's own API test, seeding, and an expert
(the classical minimum-jerk controller) that reaches its goals and out-scores a frozen policy."""

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from llm_mas_ros.core.control.learned_policy import FEATURE_NAMES
from llm_mas_ros.core.robot.model import JointType, RobotModel
from llm_mas_ros.core.sim.multi_agent_env import ArmTeamEnv


class WordHashEncoder:
    """A stand-in text encoder: each manner word adds a fixed random vector; no tempo of its
    own (motions keep their style's)."""

    dim = 8

    def encode(self, manner: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in manner.split():
            vector += np.random.default_rng(sum(map(ord, word))).normal(size=self.dim)
        return vector.astype(np.float32)

    def speed_fraction(self, embedding: np.ndarray) -> None:
        return None


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


def test_the_expert_reaches_every_goal(env: ArmTeamEnv):
    """Over seeded episodes: every sampled goal is accepted (a note, such as a stretched
    duration, is no refusal), and every joint ends within
    tolerance, except in an episode whose random poses put links in contact (no controller
    reaches those goals; eval-policy leaves them out the same way)."""
    prismatic = [a.joint.kind is JointType.PRISMATIC for a in env.robot.agents]
    tolerance = np.where(prismatic, 0.001, 0.01)  # 1 mm, 0.01 rad
    reached = 0
    for seed in range(6):
        _, infos = env.reset(seed=seed)
        assert all(info["state"] != "error" for info in infos.values())  # none refused
        contact = 0
        while env.agents:
            env.step(env.expert_actions())
            contact += env.sim.contact_count > 0
        if contact:
            continue
        assert np.all(env.final_errors() < tolerance), seed
        reached += 1
    assert reached >= 4


def test_goals_can_be_given(env: ArmTeamEnv):
    goals = {name: "hold" for name in env.possible_agents}
    goals["elbow"] = "move to 30 degrees gently"
    obs, infos = env.reset(seed=0, options={"goals": goals})
    assert infos["elbow"]["goal"] == "move to 30 degrees gently"
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


def test_with_a_manner_model_the_words_time_the_motions(arm: RobotModel):
    from test_manner import FAST, toy_manner

    goals = {name: "hold" for name in arm.agent_names}
    durations = {}
    for encoder in (None, toy_manner()):
        env = ArmTeamEnv(arm, encoder=encoder)
        env.reset(seed=0, options={"goals": goals | {"elbow": f"move to 30 degrees {FAST}"}})
        durations[encoder is None] = env.end_s[arm.agent_names.index("elbow")]
    assert durations[False] == pytest.approx(durations[True] / 2.0)  # twice the default speed
