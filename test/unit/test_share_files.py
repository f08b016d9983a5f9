"""Share files are found one way, whichever install put them where (colcon, pip, editable)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2]


def fake_install(root: Path) -> Path:
    share = root / "share" / "llm_mas_ros"
    shutil.copytree(SOURCE / "config", share / "config")
    shutil.copytree(SOURCE / "urdf", share / "urdf")
    index = root / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    (index / "llm_mas_ros").touch()
    return share


def share_dir_in_subprocess(env_extra: dict[str, str]) -> str:
    probe = "from llm_mas_ros.core.share import share_dir; print(share_dir())"
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("AMENT_PREFIX_PATH", "LLM_MAS_ROS_SHARE")
    }
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()


def test_colcon_install_is_found_through_the_ament_index(tmp_path):
    share = fake_install(tmp_path / "install")
    assert share_dir_in_subprocess({"AMENT_PREFIX_PATH": str(tmp_path / "install")}) == str(share)


def test_explicit_override_wins(tmp_path):
    share = fake_install(tmp_path / "elsewhere")
    assert share_dir_in_subprocess({"LLM_MAS_ROS_SHARE": str(share)}) == str(share)


def test_an_editable_install_falls_back_to_the_source_tree():
    assert share_dir_in_subprocess({}) in (
        str(SOURCE),
        str(Path(sys.prefix) / "share" / "llm_mas_ros"),
    )


def test_the_pip_prefix_is_searched_before_the_source_tree(monkeypatch, tmp_path):
    from llm_mas_ros.core import share as module

    prefix_share = fake_install(tmp_path)
    monkeypatch.setattr(module.sys, "prefix", str(tmp_path))
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    monkeypatch.delenv("LLM_MAS_ROS_SHARE", raising=False)
    module.share_dir.cache_clear()
    try:
        assert module.share_dir() == prefix_share
    finally:
        module.share_dir.cache_clear()


def test_setup_py_installs_every_share_folder():
    source = (SOURCE / "setup.py").read_text()
    for folder in ("launch", "config", "urdf"):
        assert f'share("{folder}"' in source
    assert "resource_index/packages" in source and (SOURCE / "resource" / "llm_mas_ros").exists()


@pytest.mark.parametrize("folder", ["config", "urdf", "launch"])
def test_share_folders_exist(folder):
    assert any((SOURCE / folder).iterdir())
