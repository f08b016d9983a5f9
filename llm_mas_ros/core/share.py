"""Find the package's share files (config/, urdf/, launch/) however the package was installed.

One search order for every install: an explicit override, the ament index (colcon, or pip with
the index marker on AMENT_PREFIX_PATH), the pip prefix (`<venv>/share/llm_mas_ros`, where
setup.py's data_files land), and the source checkout (editable installs and tests).
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from .errors import ConfigError

PACKAGE = "llm_mas_ros"
SHARE_ENV = "LLM_MAS_ROS_SHARE"
_MARKER = Path("config") / "robot.yaml"


def _candidates() -> list[Path]:
    found: list[Path] = []
    if os.environ.get(SHARE_ENV):
        found.append(Path(os.environ[SHARE_ENV]))
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        marker = Path(prefix) / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE
        if marker.exists():
            found.append(Path(prefix) / "share" / PACKAGE)
    found.append(Path(sys.prefix) / "share" / PACKAGE)
    found.append(Path(__file__).resolve().parents[2])  # source checkout: <repo>/llm_mas_ros/core
    return found


@cache
def share_dir() -> Path:
    """The directory holding config/, urdf/ and launch/ of this installation."""
    for candidate in _candidates():
        if (candidate / _MARKER).is_file():
            return candidate
    searched = ", ".join(str(c) for c in _candidates())
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
