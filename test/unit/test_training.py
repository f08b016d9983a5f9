"""train-policy on a tiny budget runs end to end: the manner embedding (through a tiny random
transformers model), demonstrations, training, held-out report, and a weights file the numpy
policy loads; rollouts give the same data wherever they run."""

import json
import shutil

import numpy as np
import pytest

from llm_mas_ros.core.control.learned_policy import PolicyWeights
from llm_mas_ros.core.control.manner import manner_vocabulary
from llm_mas_ros.training.train_cli import MANNER_FILE, train_policy

pytest.importorskip("torch")
TINY = ["--episodes", "2", "--held-out", "1", "--epochs", "1", "--rl-steps", "0"]


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    """A random 2-layer Llama with an in-process tokenizer, saved as a model folder."""
    from llm_fixtures import tiny_model

    loaded = tiny_model()
    folder = tmp_path_factory.mktemp("tiny_lm")
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return str(folder)


def test_train_policy_runs_end_to_end_on_a_tiny_budget(tmp_path, capsys, language_model):
    out = tmp_path / "weights" / "policy.npz"
    work = tmp_path / "work"
    argv = [*TINY, "--language-model", language_model, "--resume", str(work)]
    assert train_policy([*argv, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["demonstrations"] > 0 and report["weights"] == str(out)
    assert set(report["held_out"]) == {"policy", "classical", "teacher"}
    assert report["held_out"]["classical"]["success"] == 1.0
    weights = PolicyWeights.load(out)
    assert weights.type_names[-1] == "gripper"
    assert report["rl"]["chosen"] == "bc" and "skipped" in report["rl"]["reason"]
    # the manner model: every manner word, a layer and size chosen on the training words
    manner = weights.manner
    assert manner is not None and manner.words == manner_vocabulary()
    assert weights.embedding_dim == manner.dim == report["manner"]["dim"]
    assert report["manner"]["layer"] in (1, 2) and report["manner"]["cv_rmse_log_ratio"] > 0
    assert (work / MANNER_FILE).exists()
    assert train_policy([*argv, "--out", str(out), "--json"]) == 0  # resumed: reused
    assert "reused" in json.loads(capsys.readouterr().out)["manner"]


def test_without_a_language_model_the_weights_read_no_text(tmp_path, capsys):
    out = tmp_path / "policy.npz"
    assert train_policy([*TINY, "--language-model", "none", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["manner"] == {"language_model": None}
    weights = PolicyWeights.load(out)
    assert weights.manner is None and weights.embedding_dim == 0


def test_a_bad_config_folder_is_an_error_line_not_a_trace(tmp_path, capsys):
    assert train_policy(["--config", str(tmp_path), "--out", str(tmp_path / "p.npz")]) == 2
    assert "missing config file" in capsys.readouterr().err


def test_train_policy_gives_the_same_weights_in_worker_processes_and_on_ray(
    tmp_path, capsys, language_model
):
    """Every episode's randomness comes from its seed: where it ran changes nothing (the
    manner model travels to the workers with the work)."""
    pytest.importorskip("ray")
    first = tmp_path / "first"
    argv = [*TINY, "--language-model", language_model, "--resume", str(first)]
    assert train_policy([*argv, "--out", str(tmp_path / "first.npz")]) == 0
    capsys.readouterr()
    runs = {}
    for where in ("here", "processes", "ray"):
        out = tmp_path / f"{where}.npz"
        work = tmp_path / where
        work.mkdir()
        shutil.copy(first / MANNER_FILE, work / MANNER_FILE)  # one embedding for the three
        more = {"here": [], "processes": ["--workers", "2"]}.get(where, ["--ray", "local"])
        more += ["--resume", str(work)]
        assert train_policy([*TINY, *more, "--out", str(out), "--json"]) == 0
        runs[where] = json.loads(capsys.readouterr().out), np.load(out)
    report, weights = runs["here"]
    for other, other_weights in (runs["processes"], runs["ray"]):
        assert other["demonstrations"] == report["demonstrations"]
        assert other["held_out"] == report["held_out"]
        assert all(np.array_equal(weights[k], other_weights[k]) for k in weights.files)


def test_a_language_model_that_is_no_model_folder_is_one_error_line(tmp_path, capsys):
    argv = [*TINY, "--language-model", str(tmp_path), "--out", str(tmp_path / "p.npz")]
    assert train_policy(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("llm-mas-ros train-policy: error: --language-model ")
    assert not (tmp_path / "p.npz").exists()
