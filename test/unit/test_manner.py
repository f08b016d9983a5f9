"""Manner words: the agent language keeps them as written, the manner model embeds them and
times motions by them, learned agents (and only they) move at that tempo, and the planner
waits long enough for a goal a learned agent may slow down."""

import dataclasses
import math

import numpy as np
import pytest
from test_policy_guard import random_weights

from llm_mas_ros.core.control.agent import AgentGroup
from llm_mas_ros.core.control.learned_policy import LearnedPolicy, PolicyWeights
from llm_mas_ros.core.control.manner import (
    AblatedManner,
    MannerModel,
    fit_tempo,
    manner_vocabulary,
)
from llm_mas_ros.core.control.motion import plan_motion
from llm_mas_ros.core.control.policies import MinimumJerkPolicy
from llm_mas_ros.core.control.policy_guard import GuardedPolicy, GuardSettings
from llm_mas_ros.core.errors import SubgoalError
from llm_mas_ros.core.language.agent_language import (
    STYLE_WORDS,
    is_manner_word,
    parse_subgoal,
    render_subgoal,
)
from llm_mas_ros.core.planning.plan import Proposal
from llm_mas_ros.core.planning.shield import SafetyShield
from llm_mas_ros.core.robot.model import load_robot

ROBOT = load_robot()
ELBOW = ROBOT.agent("elbow")
FAST, SLOW = "hastily", "patiently"


def toy_manner() -> MannerModel:
    """Two words on one axis: 'hastily' asks for twice the default speed, 'patiently' half."""
    words = (FAST, SLOW, "gently")
    vectors = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    return MannerModel(words, vectors, np.array([math.log(2.0), 0.0], np.float32), 0.4, (0.1, 0.9))


def parsed(text: str):
    return parse_subgoal(text, ELBOW, ROBOT.poses)


# -- the agent language -------------------------------------------------------------------------
def test_manner_words_are_kept_as_written_and_styles_still_read():
    goal = parsed("move to 30 degrees at a leisurely pace")
    assert goal.manner == "leisurely" and goal.style == "slowly"
    goal = parsed("gingerly bend to 10 deg")
    assert goal.manner == "gingerly" and goal.style is None  # an adverb no style list names
    assert parsed("move to 10 deg").manner == ""


def test_only_adverbs_of_manner_are_taken_names_and_nouns_stay_errors():
    assert is_manner_word("hastily") and is_manner_word("briskly") and is_manner_word("gently")
    for word in ("family", "emily", "supply", "still", "fully"):
        assert not is_manner_word(word)
    with pytest.raises(SubgoalError, match="does not understand 'family'"):
        parsed("move to 20 deg family")
    with pytest.raises(SubgoalError, match="no skill or target"):
        parsed("hastily")  # a manner alone asks for nothing
    with pytest.raises(SubgoalError, match="conflicting style"):
        parsed("move to 20 deg slowly quickly")


def test_a_rendered_goal_keeps_its_manner_words():
    goal = parsed("hastily move to 30 deg")
    text = render_subgoal(goal, ELBOW)
    assert text == "move to 30 deg hastily" and parsed(text) == goal


def test_the_vocabulary_is_every_style_word_and_adverb():
    words = manner_vocabulary()
    assert set(STYLE_WORDS) <= set(words) and {"hastily", "gingerly"} <= set(words)
    assert all(is_manner_word(w) for w in words) and list(words) == sorted(words)


# -- the manner model ---------------------------------------------------------------------------
def test_an_embedding_is_the_mean_of_its_words_and_nothing_reads_as_zero():
    manner = toy_manner()
    assert np.array_equal(manner.encode(f"{FAST} gently"), [0.5, 0.5])
    assert np.array_equal(manner.encode(""), [0.0, 0.0])
    assert np.array_equal(manner.encode("unheardofly"), [0.0, 0.0])
    assert manner.encode(FAST) is manner.encode(FAST)  # cached: once per phrase


def test_the_tempo_is_the_default_without_words_and_clipped_to_the_range():
    manner = toy_manner()
    assert manner.speed_fraction(manner.encode("")) == 0.4
    assert manner.speed_fraction(manner.encode(FAST)) == pytest.approx(0.8)
    assert manner.speed_fraction(manner.encode(SLOW)) == pytest.approx(0.2)
    assert manner.speed_fraction(np.array([10.0, 0.0])) == 0.9  # never past the range
    ablated = AblatedManner(manner)
    assert not ablated.encode(FAST).any() and ablated.speed_fraction(ablated.encode(FAST)) == 0.4


def test_fit_tempo_recovers_a_linear_map_without_intercept():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(50, 4))
    w = np.array([0.5, -1.0, 0.0, 2.0])
    assert np.allclose(fit_tempo(e, e @ w, ridge=1e-6), w, atol=1e-4)


def test_weights_carry_the_manner_model_through_a_file(tmp_path):
    weights = dataclasses.replace(random_weights(), manner=toy_manner(), embedding_dim=2)
    path = tmp_path / "w.npz"
    weights.save(path)
    loaded = PolicyWeights.load(path).manner
    assert loaded is not None and loaded.words == toy_manner().words
    assert np.array_equal(loaded.vectors, toy_manner().vectors)
    assert loaded.speed_fraction(loaded.encode(FAST)) == pytest.approx(0.8)
    assert PolicyWeights.load(path).embedding_dim == 2
    random_weights().save(path)
    assert PolicyWeights.load(path).manner is None


# -- agents -------------------------------------------------------------------------------------
def _group(learned_rows: list[bool], manner: MannerModel) -> AgentGroup:
    weights = dataclasses.replace(random_weights(), manner=manner, embedding_dim=manner.dim)
    guard = GuardedPolicy(
        LearnedPolicy(weights, ROBOT.agent_names),
        MinimumJerkPolicy(),
        learned_rows,
        np.array([a.joint.velocity for a in ROBOT.agents]),
        1.0 / ROBOT.control.rate_hz,
        GuardSettings(5, 1.0),
    )
    group = AgentGroup(ROBOT.agents, ROBOT, guard)
    for core in group.cores:
        core.observe(0.0, 0.0, 0.0)
    return group


def test_learned_agents_move_at_the_tempo_of_the_words_classical_ones_by_style():
    manner = toy_manner()
    rows = [name == "elbow" for name in ROBOT.agent_names]
    group = _group(rows, manner)
    elbow, wrist = group.core("elbow"), group.core("wrist_1")
    assert elbow.reads_manner and not wrist.reads_manner
    durations = {}
    for word in (FAST, "", SLOW):
        for core in (elbow, wrist):
            core.receive_goal(f"move to 30 deg {word}".strip(), 0.01)
        durations[word] = elbow.motion.duration_s
        # the classical agent knows no tempo in these adverbs: the default speed each time
        assert (
            wrist.motion.duration_s
            == plan_motion(parsed("move to 30 deg"), wrist.agent, 0.0, ROBOT).duration_s
        )
    assert durations[""] == pytest.approx(2.0 * durations[FAST], rel=1e-6)
    assert durations[SLOW] == pytest.approx(2.0 * durations[""], rel=1e-6)
    row = ROBOT.agent_names.index("elbow")
    assert np.array_equal(group.observation.goal_embedding[row], manner.encode(SLOW))


def test_a_stated_duration_wins_over_the_words():
    group = _group([True] * len(ROBOT.agents), toy_manner())
    elbow = group.core("elbow")
    elbow.receive_goal(f"move to 30 deg in 2 s {FAST}", 0.01)
    assert elbow.motion.duration_s == 2.0


def test_the_default_group_takes_the_manner_model_of_its_weights():
    manner = toy_manner()
    group = _group([True] * len(ROBOT.agents), manner)
    assert group.cores[0].encoder is manner and group.observation.goal_embedding.shape == (7, 2)
    classical = AgentGroup(ROBOT.agents, ROBOT, MinimumJerkPolicy())
    assert classical.cores[0].encoder is None and not classical.cores[0].reads_manner


# -- the planner --------------------------------------------------------------------------------
def test_the_planner_waits_as_long_as_the_slowest_tempo_for_a_goal_with_manner_words():
    shield = SafetyShield(ROBOT)
    positions = {name: 0.0 for name in ROBOT.agent_names}
    plain, adverb = (
        shield.check_step([Proposal("elbow", text)], dict(positions)).goals[0]
        for text in ("move to 60 deg", "move to 60 deg hastily")
    )
    assert plain.longest_s is None and plain.duration_s == adverb.duration_s
    slowest = min(ROBOT.control.speed_fraction.values())
    expected = plan_motion(parsed("move to 60 deg"), ELBOW, 0.0, ROBOT, speed_fraction=slowest)
    assert adverb.longest_s == pytest.approx(expected.duration_s)
    assert adverb.longest_s > adverb.duration_s and adverb.goal == "move to 60 deg hastily"


def test_the_shipped_weights_read_held_out_words_and_lose_the_tempo_when_ablated():
    """The shipped manner model on eval-policy's held-out words (none is a training word):
    slow ones move a learned agent slower than fast ones on the same goal; zeroed, alike."""
    from llm_mas_ros.core.sim.multi_agent_env import TRAIN_MANNER
    from llm_mas_ros.training.eval_policy import FAST_WORDS, SLOW_WORDS

    manner = PolicyWeights.load(ROBOT.control.policy_weights_path()).manner
    assert manner is not None
    slow = [w for w in SLOW_WORDS if " " not in w]
    assert not (set(slow) | set(FAST_WORDS)) & set(TRAIN_MANNER)

    def seconds(model, word: str) -> float:
        fraction = model.speed_fraction(model.encode(word))
        goal = parsed(f"move to 60 deg {word}")
        return plan_motion(goal, ELBOW, 0.0, ROBOT, speed_fraction=fraction).duration_s

    slowest_fast = max(seconds(manner, w) for w in FAST_WORDS)
    assert min(seconds(manner, w) for w in slow) > 1.2 * slowest_fast
    ablated = AblatedManner(manner)
    assert len({seconds(ablated, w) for w in (*slow, *FAST_WORDS)}) == 1
