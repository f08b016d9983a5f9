"""The CLI's argument handling and last-resort errors, and the launcher's helpers: a free DDS
domain for `run`, the embedded model's cache check, stopping with the launcher."""

import os
import random
import socket
import subprocess
import sys

import pytest

from llm_mas_ros import cli
from llm_mas_ros.cli import parse_arguments
from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.planning.llm import models
from llm_mas_ros.launcher.processes import (
    DOMAIN_IDS,
    LAUNCHER_ENV,
    claim_free_domain,
    domain_in_use,
)


def test_plan_takes_instructions_before_between_and_after_its_options():
    args = parse_arguments(["plan", "a", "--file", "f", "b", "--json", "c"])
    assert (args.instructions, args.file, args.json) == (["a", "b", "c"], "f", True)


@pytest.mark.parametrize(
    "argv", [["plan", "a", "--bogus"], ["say", "a", "b"], ["run", "a", "--file", "f"]]
)
def test_unknown_arguments_stay_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_arguments(argv)
    assert exit_.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_and_exit_2():
    probe = (
        "import llm_mas_ros.cli as cli\n"
        "def boom(args): raise RuntimeError('deep trouble\\n  at somewhere.c:49')\n"
        "cli.cmd_plan = boom\n"
        "raise SystemExit(cli.main(['plan', 'x']))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == "llm-mas-ros: error: deep trouble at somewhere.c:49\n"


def test_a_domain_with_a_participant_port_bound_is_in_use():
    with claim_free_domain(random.Random(0)) as claim:
        domain = claim.domain
    assert domain in DOMAIN_IDS and not domain_in_use(domain)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as participant:
        participant.bind(("127.0.0.1", 7400 + 250 * domain + 10 + 2 * 3))  # participant id 3
        assert domain_in_use(domain)
        with claim_free_domain(random.Random(0)) as other:  # the same order: it comes first
            assert other.domain != domain
    assert not domain_in_use(domain)


def test_a_claimed_domain_is_not_claimed_again_until_released():
    """Two launchers choosing in the same instant, before either started a node: the same
    candidate order, so without the claim both would pick the same domain."""
    first = claim_free_domain(random.Random(7))
    try:
        assert domain_in_use(first.domain)
        with claim_free_domain(random.Random(7)) as second:
            assert second.domain != first.domain
    finally:
        first.close()
    assert not domain_in_use(first.domain)
    with claim_free_domain(random.Random(7)) as again:
        assert again.domain == first.domain


def test_the_embedded_model_counts_as_converted_only_when_complete(tmp_path, monkeypatch):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    folder = models.smollm2_cache_dir()
    assert folder.parent == tmp_path and not models.smollm2_converted()
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert not models.smollm2_converted()  # no weights: a conversion would run
    (folder / "model.safetensors").write_bytes(b"")
    assert models.smollm2_converted()


@pytest.mark.parametrize("launcher, survives", [(None, True), ("1", False)])
def test_a_node_process_whose_launcher_is_gone_exits_at_once(launcher, survives):
    """Started by a launcher (LAUNCHER_ENV) that is no longer its parent: it died before the
    death signal was armed. Started any other way: nothing changes."""
    probe = "from llm_mas_ros.ros.runtime import die_with_launcher\ndie_with_launcher()\nprint(1)"
    env = {k: v for k, v in os.environ.items() if k != LAUNCHER_ENV}
    if launcher:
        env[LAUNCHER_ENV] = launcher
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert (result.stdout == "1\n") is survives


def test_the_cli_converts_the_embedded_model_once_with_progress_even_in_a_pipe(tmp_path):
    """The conversion itself is faked (the real one takes ~30 s): what is checked is that the
    CLI runs it only when the cache lacks the model, and that its log reaches a piped stderr."""
    probe = (
        "import llm_mas_ros.cli as cli\n"
        "from llm_mas_ros.core.planning.llm import models\n"
        "from llm_mas_ros.core.planning.planner_settings import PlannerSettings\n"
        "def convert(gguf, target):\n"
        "    models.LOG.info('converting into %s', target.name)\n"
        "    target.mkdir(parents=True)\n"
        "    (target / 'config.json').write_text('{}')\n"
        "    (target / 'model.safetensors').write_bytes(b'')\n"
        "models.convert_gguf = convert\n"
        "cli._show_progress()\n"
        "for backend in ('rules', 'smollm2', 'smollm2'):\n"
        "    cli._convert_embedded_model(PlannerSettings(backend=backend))\n"
    )
    env = {**os.environ, models.CACHE_ENV: str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    folder = models.smollm2_cache_dir().name  # this process has no override: same version
    assert result.stderr == f"llm-mas-ros: converting into {folder}\n"


def test_train_policy_hands_every_argument_to_its_own_parser():
    args = parse_arguments(["train-policy", "--help"])
    assert args.rest == ["--help"]
    args = parse_arguments(["--config", "c", "train-policy", "--epochs", "2", "--json"])
    assert args.rest == ["--epochs", "2", "--json"] and args.config == "c"


@pytest.mark.parametrize("flags", [["--viewer"], ["--record", "out.png"]])
def test_viewer_and_record_become_sim_parameters_and_need_the_embedded_sim(flags):
    args = parse_arguments(["run", "elbow to 5 deg", *flags])
    overrides = cli._sim_overrides(args)
    assert overrides and set(overrides) <= {"viewer", "record"}
    if "record" in overrides:
        assert overrides["record"].endswith("out.png") and overrides["record"].startswith("/")
    with pytest.raises(ConfigError, match="need the embedded sim"):
        cli._sim_overrides(parse_arguments(["run", "x", "--attach", *flags]))
