"""The RL fine-tuning stage on the real MuJoCo env and real Stable-Baselines3: the agents as a
VecEnv, PPO starting exactly at the BC policy, a tiny end-to-end run, resuming, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from stable_baselines3.common.vec_env import VecCheckNan  # noqa: E402

from llm_mas_ros.core.control.learned_policy import (  # noqa: E402
    LearnedPolicy,
    PolicyWeights,
    export_weights,
    feature_count,
    moving,
    torch_model,
)
from llm_mas_ros.core.sim.multi_agent_env import ArmTeamEnv  # noqa: E402
from llm_mas_ros.training.behaviour_cloning import HELD_OUT_SEED_OFFSET  # noqa: E402
from llm_mas_ros.training.rl_finetune import (  # noqa: E402
    AgentVecEnv,
    RLConfig,
    choose,
    finetune,
    make_model,
)
from llm_mas_ros.training.train_cli import train_policy  # noqa: E402

SHORT = 1.0  # s: the longest motion in these tests' episodes (short episodes, fast tests)
TINY = RLConfig(
    total_timesteps=2 * 64 * 7, n_steps=64, batch_size=64, n_epochs=1, held_out_episodes=1,
    max_motion_s=SHORT,
)  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_weights(arm, embedding_dim: int = 0, seed: int = 0) -> PolicyWeights:
    """Untrained weights with every parameter random (the FiLM ones too), to tell rows and
    columns apart."""
    torch.manual_seed(seed)
    model = torch_model(arm.agent_names, embedding_dim, (16, 16))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
    return export_weights(model)


def test_the_vec_env_is_one_sub_env_per_agent_with_a_team_reward_and_auto_reset(arm):
    env = ArmTeamEnv(arm, max_motion_s=SHORT)
    vec = VecCheckNan(AgentVecEnv(env, 0.02, seed=3), raise_exception=True)
    count = len(arm.agent_names)
    assert vec.num_envs == count
    observation = vec.reset()
    assert observation.shape == (count, *vec.observation_space.shape)
    assert observation.dtype == np.float32 and vec.observation_space.contains(observation[0])
    assert vec.action_space.shape == (1,) and vec.action_space.contains(np.zeros(1, np.float32))
    horizon = env.horizon
    for tick in range(1, horizon + 1):
        observation, reward, done, infos = vec.step(np.zeros((count, 1), np.float32))
        assert observation.shape == (count, *vec.observation_space.shape)
        assert reward.dtype == np.float32 and np.all(reward == reward[0]) and reward[0] <= 0
        assert done.shape == (count,) and bool(done.all()) == (tick == horizon)
        assert not done.any() or done.all()
    assert all(info["terminal_observation"].shape == observation[0].shape for info in infos)
    assert all(info["episode"]["l"] == horizon for info in infos)
    assert env.ticks == 0 and env.agents  # reset at once: the next episode is under way


def test_vec_env_resets_are_seeded(arm):
    first = [AgentVecEnv(ArmTeamEnv(arm, max_motion_s=SHORT), 0.02, seed=7) for _ in range(2)]
    np.testing.assert_array_equal(first[0].reset(), first[1].reset())
    other = AgentVecEnv(ArmTeamEnv(arm, max_motion_s=SHORT), 0.02, seed=8)
    assert not np.array_equal(other.reset(), first[0].reset())
    other.seed(7)  # SB3's way: the next reset starts the seed's stream
    np.testing.assert_array_equal(other.reset(), AgentVecEnv(first[0].env, 0.02, 7).reset())


def test_y_zero_is_the_classical_controller(arm):
    vec = AgentVecEnv(ArmTeamEnv(arm, max_motion_s=SHORT), 0.02)
    twin = ArmTeamEnv(arm, max_motion_s=SHORT)
    vec.env.reset(seed=11)
    twin.reset(seed=11)
    for _ in range(30):
        observation, *_ = vec.step(np.zeros((vec.num_envs, 1), np.float32))
        rows, *_ = twin.step(twin.expert_actions())
        expected = np.stack([rows[n] for n in twin.possible_agents])
        # the twin's commands are float32 (expert_actions): equal to that rounding
        np.testing.assert_allclose(observation[:, : vec.actor_width], expected, atol=1e-5)


@pytest.mark.parametrize("embedding_dim", [0, 2])
def test_ppo_starts_at_the_bc_policy(arm, embedding_dim):
    env = ArmTeamEnv(arm, max_motion_s=SHORT, embedding_dim=embedding_dim)
    weights = random_weights(arm, embedding_dim)
    vec = AgentVecEnv(env, weights.output_scale, seed=1)
    model = make_model(vec, weights, TINY)
    observation = vec.reset()
    for _ in range(20):  # into the motion: rows with different states
        observation, *_ = vec.step(np.zeros((vec.num_envs, 1), np.float32))
    mean, _ = model.policy.predict(observation, deterministic=True)
    expected = LearnedPolicy(weights, env.possible_agents).raw(env.observation)
    assert np.abs(expected).max() > 0.1  # a test that can fail
    np.testing.assert_allclose(mean[:, 0], expected, atol=1e-5)
    std = model.policy.log_std.exp().detach().numpy()
    np.testing.assert_allclose(std, [math.exp(TINY.log_std_init)], rtol=1e-6)  # y units
    grouped = {id(p) for g in model.policy.optimizer.param_groups for p in g["params"]}
    assert grouped == {id(p) for p in model.policy.parameters()}  # nothing left untrained


def test_rows_where_y_does_not_act_carry_no_policy_gradient(arm):
    env = ArmTeamEnv(arm, max_motion_s=SHORT)
    weights = random_weights(arm)
    vec = AgentVecEnv(env, weights.output_scale, seed=2)
    model = make_model(vec, weights, TINY)
    vec.reset()
    observation, *_ = vec.step(np.zeros((vec.num_envs, 1), np.float32))
    acting = moving(env.observation)
    obs = torch.as_tensor(observation)
    _, log_prob, _ = model.policy.evaluate_actions(obs, torch.zeros((vec.num_envs, 1)))
    log_prob = log_prob.detach().numpy()
    assert np.all(log_prob[~acting] == 0.0) and np.all(log_prob[acting] != 0.0)


def test_finetune_runs_end_to_end_and_resumes_from_its_checkpoint(arm, tmp_path):
    weights = random_weights(arm)
    checkpoint = tmp_path / "ppo.zip"
    lines: list[str] = []
    tuned, report = finetune(arm, weights, TINY, lines.append, checkpoint)
    rollout = TINY.n_steps * len(arm.agent_names)
    assert report["timesteps"] == 2 * rollout and report["resumed_at"] is None
    assert checkpoint.exists() and any(line.startswith("rl: ") for line in lines)
    assert set(report["held_out"]) == {"bc", "bc+rl"}
    seeds = report["held_out_seeds"]
    assert seeds == [HELD_OUT_SEED_OFFSET, HELD_OUT_SEED_OFFSET]  # both on the same episode
    assert report["chosen"] in ("bc", "bc+rl") and report["reason"]
    assert (tuned is weights) == (report["chosen"] == "bc")
    tuned.save(tmp_path / "tuned.npz")
    loaded = PolicyWeights.load(tmp_path / "tuned.npz")
    assert loaded.feature_count == feature_count(len(arm.agent_names))

    longer = RLConfig(**{**report["config"], "total_timesteps": 4 * rollout})
    _, resumed = finetune(arm, weights, longer, None, checkpoint)
    assert resumed["resumed_at"] == 2 * rollout  # continued, not restarted
    assert resumed["timesteps"] == 4 * rollout
    _, again = finetune(arm, weights, longer, None, checkpoint)
    assert again["timesteps"] == 4 * rollout  # the budget is spent: no more training


def test_the_choice_needs_a_real_gain_and_no_worse_final_error():
    bc = {
        "tracking_error_rad": 0.03,
        "tracking_error_mm": 0.02,
        "final_error_rad": 0.01,
        "final_error_mm": 0.0,
        "success": 0.875,
    }
    assert choose(bc, {**bc, "tracking_error_rad": 0.027})[0] == "bc+rl"
    assert choose(bc, {**bc, "tracking_error_rad": 0.0299})[0] == "bc"  # under 1%: noise
    assert choose(bc, {**bc, "success": 1.0})[0] == "bc+rl"
    assert choose(bc, {**bc, "success": 1.0, "final_error_rad": 0.02})[0] == "bc"
    assert choose(bc, {**bc, "tracking_error_rad": 0.02, "tracking_error_mm": 0.05})[0] == "bc"
    assert choose(bc, {**bc, "final_error_mm": 1e-9, "tracking_error_rad": 0.02})[0] == "bc+rl"


def test_train_policy_runs_bc_then_rl_and_resumes_from_its_work_folder(tmp_path, capsys):
    work, out = tmp_path / "work", tmp_path / "policy.npz"
    tiny = ["--episodes", "2", "--held-out", "1", "--epochs", "1", "--out", str(out)]
    argv = [*tiny, "--rl-steps", "128", "--resume", str(work), "--json"]
    assert train_policy(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bc_reused"] is False and set(report["held_out"]) >= {"policy", "classical"}
    rl = report["rl"]
    assert set(rl["held_out"]) == {"bc", "bc+rl"} and rl["chosen"] in ("bc", "bc+rl")
    assert rl["seconds"] > 0 and (work / "bc.npz").exists() and (work / "ppo.zip").exists()
    assert PolicyWeights.load(out).type_names[-1] == "gripper"

    assert train_policy([*tiny, "--rl-steps", "128", "--resume", str(work)]) == 0
    text = capsys.readouterr()
    assert "reusing" in text.err and "shipped: " in text.out
    assert rl["timesteps"] == 512 * 7  # one rollout of the default n_steps


def test_bad_rl_options_are_an_error_line(tmp_path, capsys):
    assert train_policy(["--rl-steps", "-1", "--out", str(tmp_path / "p.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--rl-steps" in err[0]
