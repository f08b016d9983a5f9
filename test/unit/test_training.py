"""train-policy on a tiny budget runs end to end: demonstrations, training, held-out report,
and a weights file the numpy policy loads."""

import json

import pytest

from llm_mas_ros.core.control.learned_policy import PolicyWeights
from llm_mas_ros.training.train_cli import train_policy

pytest.importorskip("torch")


def test_train_policy_runs_end_to_end_on_a_tiny_budget(tmp_path, capsys):
    out = tmp_path / "weights" / "policy.npz"
    argv = ["--episodes", "2", "--held-out", "1", "--epochs", "1", "--out", str(out), "--json"]
    assert train_policy(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["demonstrations"] > 0 and report["weights"] == str(out)
    assert set(report["held_out"]) == {"policy", "classical", "teacher"}
    assert report["held_out"]["classical"]["success"] == 1.0
    assert PolicyWeights.load(out).type_names[-1] == "gripper"


def test_a_bad_config_folder_is_an_error_line_not_a_trace(tmp_path, capsys):
    assert train_policy(["--config", str(tmp_path), "--out", str(tmp_path / "p.npz")]) == 2
    assert "missing config file" in capsys.readouterr().err
