"""train-policy on a tiny budget runs end to end: demonstrations, training, held-out report,
and a weights file the numpy policy loads; rollouts give the same data wherever they run."""

import json

import numpy as np
import pytest

from llm_mas_ros.core.control.learned_policy import PolicyWeights
from llm_mas_ros.training.train_cli import train_policy

pytest.importorskip("torch")
TINY = ["--episodes", "2", "--held-out", "1", "--epochs", "1", "--rl-steps", "0"]


def test_train_policy_runs_end_to_end_on_a_tiny_budget(tmp_path, capsys):
    out = tmp_path / "weights" / "policy.npz"
    assert train_policy([*TINY, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["demonstrations"] > 0 and report["weights"] == str(out)
    assert set(report["held_out"]) == {"policy", "classical", "teacher"}
    assert report["held_out"]["classical"]["success"] == 1.0
    assert PolicyWeights.load(out).type_names[-1] == "gripper"
    assert report["rl"]["chosen"] == "bc" and "skipped" in report["rl"]["reason"]


def test_a_bad_config_folder_is_an_error_line_not_a_trace(tmp_path, capsys):
    assert train_policy(["--config", str(tmp_path), "--out", str(tmp_path / "p.npz")]) == 2
    assert "missing config file" in capsys.readouterr().err


def test_train_policy_gives_the_same_weights_in_worker_processes_and_on_ray(tmp_path, capsys):
    """Every episode's randomness comes from its seed: where it ran changes nothing."""
    pytest.importorskip("ray")
    runs = {}
    for where in ("here", "processes", "ray"):
        out = tmp_path / f"{where}.npz"
        more = {"here": [], "processes": ["--workers", "2"]}.get(where, ["--ray", "local"])
        assert train_policy([*TINY, *more, "--out", str(out), "--json"]) == 0
        runs[where] = json.loads(capsys.readouterr().out), np.load(out)
    report, weights = runs["here"]
    for other, other_weights in (runs["processes"], runs["ray"]):
        assert other["demonstrations"] == report["demonstrations"]
        assert other["held_out"] == report["held_out"]
        assert all(np.array_equal(weights[k], other_weights[k]) for k in weights.files)
