"""ament_python package, installable by colcon and by pip (editable or not)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "llm_mas_ros"


def share(folder: str, pattern: str = "*") -> tuple[str, list[str]]:
    return (f"share/{PACKAGE}/{folder}", sorted(glob(f"{folder}/{pattern}")))


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        share("launch", "*.launch.py"),
        share("config", "*.*"),
        share("urdf", "*.*"),
    ],
    python_requires=">=3.10",
    install_requires=["setuptools"],
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
