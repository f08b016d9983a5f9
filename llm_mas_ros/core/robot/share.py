"""Find the package's share files (config/, urdf/, launch/) however the package was installed.

One search order for every install: an explicit override; the source checkout this code runs
from (editable installs, tests); the files recorded for the installed distribution (a pip wheel
install, wherever its prefix is: a venv, `--prefix`, `--user`); the ament index (colcon, or pip
with the index marker on AMENT_PREFIX_PATH); and `<sys.prefix>/share/llm_mas_ros`.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from functools import cache
from pathlib import Path, PurePath

from ..errors import ConfigError

PACKAGE = "llm_mas_ros"
SHARE_ENV = "LLM_MAS_ROS_SHARE"
_MARKER = Path("config") / "robot.yaml"


def _installed_share() -> Path | None:
    """The share folder that setup.py's data_files put next to the installed distribution:
    the distribution's RECORD lists `share/llm_mas_ros/config/robot.yaml` relative to its
    site-packages, whatever the install prefix."""
    try:
        files = importlib.metadata.distribution(PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    marker = ("share", PACKAGE, *_MARKER.parts)
    for file in files:
        if PurePath(file).parts[-len(marker) :] == marker:
            return Path(file.locate()).resolve().parents[len(_MARKER.parts) - 1]
    return None


def _candidates() -> list[Path]:
    found: list[Path] = []
    if os.environ.get(SHARE_ENV):
        found.append(Path(os.environ[SHARE_ENV]))
    found.append(Path(__file__).resolve().parents[3])  # source: <repo>/llm_mas_ros/core/robot
    installed = _installed_share()
    if installed:
        found.append(installed)
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        marker = Path(prefix) / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE
        if marker.exists():
            found.append(Path(prefix) / "share" / PACKAGE)
    found.append(Path(sys.prefix) / "share" / PACKAGE)
    return found


@cache
def share_dir() -> Path:
    """The directory holding config/, urdf/ and launch/ of this installation."""
    candidates = _candidates()
    for candidate in candidates:
        if (candidate / _MARKER).is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"cannot find the {PACKAGE} share files (looked in {searched})")


def share_path(*parts: str) -> Path:
    """A file under the share directory, e.g. share_path("config", "robot.yaml")."""
    return share_dir().joinpath(*parts)


def resolve(path: str | Path, folder: str) -> Path:
    """`path` as given when absolute or existing, else relative to share/<folder>/."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return share_path(folder, str(path))
