"""Share files are found one way, whichever install put them where (colcon, pip, editable)."""

import os
import runpy
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import setuptools

SOURCE = Path(__file__).resolve().parents[2]
BUILD_INPUTS = ("setup.py", "setup.cfg", "package.xml", "requirements.txt", "resource")
SHARED = ("llm_mas_ros", "launch", "config", "urdf")


def fake_install(root: Path) -> Path:
    share = root / "share" / "llm_mas_ros"
    shutil.copytree(SOURCE / "config", share / "config")
    shutil.copytree(SOURCE / "urdf", share / "urdf")
    index = root / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    (index / "llm_mas_ros").touch()
    return share


def share_dir_in_subprocess(env_extra: dict[str, str], cwd: Path | None = None) -> str:
    probe = "from llm_mas_ros.core.robot.share import share_dir; print(share_dir())"
    env = {
        k: v for k, v in os.environ.items() if k not in ("AMENT_PREFIX_PATH", "LLM_MAS_ROS_SHARE")
    }
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, cwd=cwd
    ).stdout.strip()


def test_colcon_install_is_found_through_the_ament_index(tmp_path):
    """The code runs from a copy without pip metadata, as colcon installs it."""
    share = fake_install(tmp_path / "install")
    shutil.copytree(SOURCE / "llm_mas_ros", tmp_path / "site" / "llm_mas_ros")
    env = {"AMENT_PREFIX_PATH": str(tmp_path / "install"), "PYTHONPATH": str(tmp_path / "site")}
    assert share_dir_in_subprocess(env, cwd=tmp_path) == str(share)


def test_explicit_override_wins(tmp_path):
    share = fake_install(tmp_path / "elsewhere")
    assert share_dir_in_subprocess({"LLM_MAS_ROS_SHARE": str(share)}) == str(share)


def test_an_editable_install_uses_the_source_tree_even_beside_a_colcon_install(tmp_path):
    fake_install(tmp_path / "install")  # the code that runs is the checkout's: so are its files
    assert share_dir_in_subprocess({"AMENT_PREFIX_PATH": str(tmp_path / "install")}) == str(SOURCE)


def test_a_wheel_installed_with_pip_prefix_finds_its_own_share_files(tmp_path):
    """`pip install --prefix` (or --user) puts share/ outside sys.prefix: the distribution's
    RECORD says where. Built from a copy of the sources; installed into tmp_path only
    (--ignore-installed: pip must not touch the editable install it sees in .venv)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS + SHARED:
        copy = shutil.copytree if (SOURCE / name).is_dir() else shutil.copy
        copy(SOURCE / name, source / name)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    wheels, prefix = tmp_path / "wheels", tmp_path / "prefix"
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, source], check=True
    )
    (wheel,) = wheels.glob("llm_mas_ros-*.whl")
    install = ["install", "--no-deps", "--no-index", "--ignore-installed"]
    subprocess.run(
        [*pip, *install, "--no-warn-script-location", "--prefix", prefix, wheel], check=True
    )
    scheme = sysconfig.get_paths("posix_prefix", vars={"base": prefix, "platbase": prefix})
    found = share_dir_in_subprocess({"PYTHONPATH": scheme["purelib"]}, cwd=tmp_path)
    assert found == str(prefix / "share" / "llm_mas_ros")
    assert share_dir_in_subprocess({}, cwd=tmp_path) == str(SOURCE)  # .venv's is untouched


def test_setup_py_requires_exactly_what_requirements_txt_lists(monkeypatch):
    captured: dict = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(SOURCE)
    runpy.run_path(str(SOURCE / "setup.py"), run_name="__main__")
    lines = (SOURCE / "requirements.txt").read_text().splitlines()
    listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert "numpy>=2.0" in listed and "mujoco==4.0.0" in listed
    # setuptools: the ament_python template's one entry (colcon's script wrappers need it)
    assert captured["install_requires"] == ["setuptools", *listed]
    assert not any(r.startswith("torch") for r in captured["install_requires"])


def test_package_xml_declares_what_the_code_imports():
    package = (SOURCE / "package.xml").read_text()
    assert "<exec_depend>rcl_interfaces</exec_depend>" in package  # ros/params.py
    for unused in ("trajectory_msgs", "ament_index_python", "python3-pip"):
        assert f"<exec_depend>{unused}</exec_depend>" not in package


def test_setup_py_installs_every_share_folder():
    source = (SOURCE / "setup.py").read_text()
    for folder in ("launch", "config", "urdf"):
        assert f'share("{folder}"' in source
    assert "resource_index/packages" in source and (SOURCE / "resource" / "llm_mas_ros").exists()


@pytest.mark.parametrize("folder", ["config", "urdf", "launch"])
def test_share_folders_exist(folder):
    assert any((SOURCE / folder).iterdir())
