"""Run provenance: what a rerun must match (CPU, software, commit, command, loaded models)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

from llm_mas_ros.eval import provenance

CPUINFO = """processor\t: 0
model name\t: Made-up CPU 9000
flags\t\t: fpu sse avx2 avx512f amx_tile
"""


def test_cpu_info_reads_the_model_and_the_matmul_flags():
    info = provenance.cpu_info(CPUINFO)
    assert info["model"] == "Made-up CPU 9000"
    assert info["flags"] == {
        "avx2": True,
        "avx512f": True,
        "avx512_bf16": False,
        "amx_tile": True,
        "amx_bf16": False,
    }


def test_cpu_info_without_cpuinfo_still_names_a_cpu_and_no_flags():
    info = provenance.cpu_info("")
    assert info["model"]
    assert not any(info["flags"].values())


def test_software_versions_are_none_for_missing_packages(monkeypatch):
    monkeypatch.setattr(provenance, "VERSIONED", ("numpy", "no-such-package-xyz"))
    versions = provenance.software_versions()
    assert list(versions) == ["numpy", "no-such-package-xyz"]
    assert versions["numpy"] and versions["no-such-package-xyz"] is None


def test_git_state_outside_a_repository_is_unknown(tmp_path):
    assert provenance.git_state(tmp_path / "missing") == {
        "commit": None,
        "dirty": None,
        "changed_files": None,
    }


def test_git_state_of_this_checkout_names_a_commit():
    state = provenance.git_state(Path(__file__).parent)
    if state["commit"] is None:  # an export without .git or without git: nothing to check
        return
    assert re.fullmatch(r"[0-9a-f]{4,40}", state["commit"])
    assert state["dirty"] == (state["changed_files"] > 0)


def test_command_line_shortens_paths_inside_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "bench" / "run.py"
    line = provenance.command_line(script, ["--out", "a b"])
    assert line.endswith("bench/run.py --out 'a b'")
    outside = Path(os.sep) / "elsewhere" / "run.py"
    assert str(outside) in provenance.command_line(outside, [])
    assert provenance.command_line(outside, []).split()[0] in (
        sys.executable,
        os.path.relpath(sys.executable),
    )


def test_machine_names_the_cpu_count_and_python():
    text = provenance.machine()
    assert f"{os.cpu_count()} CPUs" in text and "Python " in text


def test_model_info_reports_what_the_backend_loaded():
    assert provenance.model_info(object()) is None
    loaded = SimpleNamespace(
        name="tiny",
        model=SimpleNamespace(dtype="torch.bfloat16"),
        device="cpu",
        source=None,
    )
    assert provenance.model_info(SimpleNamespace(loaded=loaded)) == {
        "name": "tiny",
        "dtype": "bfloat16",
        "device": "cpu",
        "source": "-",
    }
