"""ament_python package, installable by colcon and by pip (editable or not)."""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "llm_mas_ros"
HERE = Path(__file__).resolve().parent


def requirements(file: str = "requirements.txt") -> list[str]:
    """The Python dependencies, from the one list `make install` uses too (comments and blank
    lines skipped). Left out on purpose: torch, which must be installed first as
    `pip install torch==2.13.0` (a plain `torch` requirement pulls a multi-GB CUDA build), the
    ROS 2 wheels (requirements-ros.txt: not over a system ROS) and the packages installed with
    --no-deps (requirements-nodeps.txt: their declared dependencies are wrong or huge)."""
    lines = (line.split("#", 1)[0].strip() for line in (HERE / file).read_text().splitlines())
    return [line for line in lines if line]


def share(folder: str, pattern: str = "*") -> tuple[str, list[str]]:
    return (f"share/{PACKAGE}/{folder}", sorted(glob(f"{folder}/{pattern}")))


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["py.typed", "core/language/english_words.txt"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        # requirements.txt: read by requirements() above, so an sdist must carry it too
        (f"share/{PACKAGE}", ["package.xml", "requirements.txt"]),
        share("launch", "*.launch.py"),
        share("config", "*.*"),
        share("urdf", "*.*"),
    ],
    python_requires=">=3.10",
    install_requires=["setuptools", *requirements()],
    # `colcon test` runs pytest only for packages that declare it as a test dependency (else
    # it falls back to unittest and finds nothing); setup.cfg's [tool:pytest] configures it.
    extras_require={"test": ["pytest", "pytest-timeout", "hypothesis"]},
    zip_safe=True,
    maintainer="llm_mas_ros team",
    maintainer_email="team@llm-mas-ros.dev",
    description="Plain-language robot command: LLM planner + one learned agent per joint, ROS 2.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "llm-mas-ros = llm_mas_ros.cli:main",
            "llm_mas_sim = llm_mas_ros.nodes.sim_node:main",
            "llm_mas_agents = llm_mas_ros.nodes.agents_node:main",
            "llm_mas_planner = llm_mas_ros.nodes.planner_node:main",
        ],
    },
)
