"""eval-policy on a tiny budget: held-out phrasings parse, the report has every measure."""

import dataclasses
import json
import math

import numpy as np
import pytest
from test_policy_guard import random_weights

from llm_mas_ros.core.control.manner import MannerModel
from llm_mas_ros.core.language.agent_language import STYLE_WORDS, parse_subgoal
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.core.sim.multi_agent_env import TRAIN_STYLES
from llm_mas_ros.training.eval_policy import (
    FAST_WORDS,
    HELD_OUT_PHRASINGS,
    SLOW_WORDS,
    eval_policy,
    sample_episode,
)

ROBOT = load_robot()


def test_held_out_style_words_are_known_to_the_parser_and_unseen_in_training():
    single = [w for w in HELD_OUT_PHRASINGS.styles if " " not in w]
    assert all(w in STYLE_WORDS for w in single) and not set(single) & set(TRAIN_STYLES)
    assert {STYLE_WORDS[w] for w in SLOW_WORDS if w in STYLE_WORDS} == {"slowly"}
    assert {STYLE_WORDS[w] for w in FAST_WORDS} == {"quickly"}


def test_held_out_episodes_parse_as_agent_language():
    rng = np.random.default_rng(0)
    for _ in range(5):
        episode = sample_episode(ROBOT, rng, 4.0)
        for name, text in episode.goals.items():
            parse_subgoal(text, ROBOT.agent(name), ROBOT.poses)


def test_eval_policy_runs_on_a_tiny_budget(tmp_path, capsys):
    weights = tmp_path / "w.npz"
    random_weights().save(weights)
    assert eval_policy(["--weights", str(weights), "--episodes", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for name in ("learned", "classical"):
        scores = report[name]
        for key in (
            "success",
            "final_error_rad",
            "tracking_error_rad",
            "overshoot_rad",
            "rms_jerk_rad_per_s3",
            "duration_over_asked",
            "slow_over_fast",
            "step_us_batch_1",
            "step_us_batch_7",
        ):
            assert key in scores
    assert report["classical"]["limit_violations"] == 0
    assert report["slow_over_fast_ablated"].startswith("n/a")  # these weights read no text


def test_eval_policy_reports_unreadable_weights(tmp_path, capsys):
    assert eval_policy(["--weights", str(tmp_path / "none.npz")]) == 2
    assert "cannot read policy weights" in capsys.readouterr().err


def _manner_of_held_out_words() -> MannerModel:
    """A toy manner model that knows eval-policy's held-out words: slow ones at half the
    default speed, fast ones at twice it (one axis)."""
    slow = [w for w in SLOW_WORDS if " " not in w]
    words = (*slow, *FAST_WORDS)
    vectors = np.array([[1.0]] * len(slow) + [[-1.0]] * len(FAST_WORDS), dtype=np.float32)
    return MannerModel(words, vectors, np.array([-math.log(2.0)], np.float32), 0.4, (0.1, 0.9))


def test_the_ablation_shows_the_words_time_the_motion(tmp_path, capsys):
    manner = _manner_of_held_out_words()
    weights = tmp_path / "w.npz"
    dataclasses.replace(random_weights(), manner=manner, embedding_dim=1).save(weights)
    plot = tmp_path / "runs.png"
    argv = ["--weights", str(weights), "--episodes", "1", "--json", "--plot", str(plot)]
    assert eval_policy(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["embedding_dim"] == 1 and plot.stat().st_size > 0  # runs of unequal length
    assert report["learned"]["slow_over_fast"] > 2.0  # 4x apart, less the settling time
    assert report["slow_over_fast_ablated"] == pytest.approx(1.0, abs=0.05)
