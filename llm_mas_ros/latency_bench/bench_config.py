"""The robot configurations the bench runs, written into a folder of its own: the reference arm
alone, or `copies` of it side by side on one base (7 agents per arm: 14, 28, 56 agents), and
policy weights the current code loads. No ROS: unit tested.

A copy renames every link, joint, material and controller with a `c<k>_` prefix and hangs its
base on the reference's world link, COPY_SPACING_M apart, so the URDF stays one tree; its
agents drive the copied joints with the reference's agent settings (kind, controller), and the
learned policy treats each copied agent as the reference agent it copies (its type row of the
first layer is that agent's). Nothing about the arm is written here: it is read from the
package's robot.yaml and URDF.
"""

from __future__ import annotations

import copy
import io
import shutil
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..core.control.learned_policy import FEATURE_NAMES, PolicyWeights
from ..core.robot.model import RobotModel, load_robot, load_urdf
from ..core.robot.share import resolve, share_path

COPY_SPACING_M = 0.6  # between the bases of two copies (m): they never touch
WILDCARD = "/**"
BENCH_STATE_TIMEOUT_S = 3600.0  # see write_config


def copy_name(copy_index: int, name: str) -> str:
    """The name of `name` in copy `copy_index` (0: the reference itself)."""
    return name if copy_index == 0 else f"c{copy_index}_{name}"


def arms_urdf(urdf_xml: str, copies: int) -> str:
    """The URDF of `copies` arms: the reference's links and joints, then each copy's. The
    reference's root link (world) is shared; everything else of a copy is renamed, and its
    base joint is offset along y. Other elements (ros2_control) stay the reference's only."""
    root = ElementTree.fromstring(urdf_xml)
    links = [element for element in root if element.tag == "link"]
    joints = [element for element in root if element.tag == "joint"]
    children = {child.get("link") for joint in joints for child in joint.iter("child")}
    roots = {link.get("name") for link in links} - children
    for index in range(1, copies):
        for link in links:
            if link.get("name") not in roots:
                root.append(_renamed_link(link, index))
        for joint in joints:
            root.append(_renamed_joint(joint, index, roots))
    return ElementTree.tostring(root, encoding="unicode")


def _renamed_link(link: ElementTree.Element, index: int) -> ElementTree.Element:
    clone = copy.deepcopy(link)
    for element in clone.iter():  # the link and its materials
        if "name" in element.attrib:
            element.set("name", copy_name(index, element.attrib["name"]))
    return clone


def _renamed_joint(
    joint: ElementTree.Element, index: int, roots: set[str | None]
) -> ElementTree.Element:
    clone = copy.deepcopy(joint)
    clone.set("name", copy_name(index, clone.attrib["name"]))
    for tag in ("parent", "child"):
        for element in clone.iter(tag):
            if element.get("link") not in roots:
                element.set("link", copy_name(index, element.attrib["link"]))
            elif tag == "parent":  # the copy's base joint: beside the reference, not in it
                origin = clone.find("origin")
                if origin is None:
                    origin = ElementTree.SubElement(clone, "origin")
                origin.set("xyz", f"0 {index * COPY_SPACING_M:g} 0")
    for mimic in clone.iter("mimic"):
        mimic.set("joint", copy_name(index, mimic.attrib["joint"]))
    return clone


def arms_parameters(
    document: dict[str, Any], copies: int, urdf: Path, weights: Path, overrides: dict[str, Any]
) -> dict[str, Any]:
    """robot.yaml's document for `copies` arms: the reference's parameters, its agents then
    each copy's (joint, controller, kind: the words people use stay the reference's), the
    generated URDF and weights, then `overrides` (robot parameters)."""
    params = copy.deepcopy(document[WILDCARD]["ros__parameters"])
    names = list(params["agent_names"])
    for index in range(1, copies):
        for name in names:
            agent = params["agents"][name]
            params["agents"][copy_name(index, name)] = {
                "joint": copy_name(index, agent["joint"]),
                "controller": copy_name(index, agent.get("controller", f"{name}_controller")),
                **({"kind": agent["kind"]} if "kind" in agent else {}),
            }
    params["agent_names"] = [copy_name(i, name) for i in range(copies) for name in names]
    params["robot_description"] = str(urdf)
    params["policy_weights"] = str(weights)
    params.update(overrides)
    return {WILDCARD: {"ros__parameters": params}}


def current_weights(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """The arrays of a weights file aligned to this code's features (`PolicyWeights.load`: a
    feature it was not trained on reads as a zero row, so the network computes what it was
    trained to), and a note naming such features ('' when there are none)."""
    weights = PolicyWeights.load(path)
    buffer = io.BytesIO()
    weights.save(buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    with np.load(path, allow_pickle=False) as data:
        trained = {str(name) for name in data["feature_names"]}
    unseen = [name for name in FEATURE_NAMES if name not in trained]
    note = (
        f"{path.name} was trained without the feature(s) {', '.join(unseen)}: "
        "they read as zero inputs"
        if unseen
        else ""
    )
    return arrays, note


def duplicated_types(arrays: dict[str, np.ndarray], copies: int) -> dict[str, np.ndarray]:
    """The weights with one agent type per copied agent, each copying its reference agent's
    row of the first layer (the one-hot type inputs come last)."""
    names = [str(name) for name in arrays["type_names"]]
    first = arrays["hidden0_w"]
    shared = first.shape[0] - len(names)
    result = dict(arrays)
    result["hidden0_w"] = np.vstack([first[:shared], *([first[shared:]] * copies)])
    result["type_names"] = np.array([copy_name(i, n) for i in range(copies) for n in names])
    return result


@dataclass(frozen=True)
class BenchConfig:
    """A config folder (robot.yaml, sim.yaml, planner.yaml) and the robot it describes."""

    folder: Path
    robot: RobotModel
    weights_note: str  # what was done to the shipped weights to load them ('' for nothing)

    @property
    def robot_file(self) -> Path:
        return self.folder / "robot.yaml"


def write_config(folder: Path, copies: int = 1, policy: str = "learned") -> BenchConfig:
    """Write the configuration of `copies` reference arms into `folder` (created), every
    agent running `policy`. state_timeout_s is BENCH_STATE_TIMEOUT_S: between its windows
    the bench leaves a system without states for seconds, which must not count as a lost
    robot (the agent would drop its goal and hold without one, off the network's training);
    the per-period stale check is off for the same reason."""
    folder.mkdir(parents=True, exist_ok=True)
    reference = share_path("config", "robot.yaml")
    document = yaml.safe_load(reference.read_text())
    params = document[WILDCARD]["ros__parameters"]
    urdf = folder / "arms.urdf"
    urdf.write_text(arms_urdf(load_urdf(params["robot_description"]), copies))
    arrays, note = current_weights(resolve(params.get("policy_weights", ""), "config"))
    weights = folder / "weights.npz"
    np.savez(weights, **duplicated_types(arrays, copies))  # type: ignore[arg-type]
    robot_file = folder / "robot.yaml"
    overrides: dict[str, Any] = {"policy": policy, "state_timeout_s": BENCH_STATE_TIMEOUT_S}
    if "state_timeout_periods" in params:  # periods of control_rate_hz, 10x the state rate:
        overrides["state_timeout_periods"] = 0  # every state would arrive 'stale'
    written = arms_parameters(document, copies, urdf, weights, overrides)
    robot_file.write_text(yaml.safe_dump(written, sort_keys=False))
    for name in ("sim.yaml", "planner.yaml"):  # node_list() wants the whole config folder
        shutil.copy(share_path("config", name), folder / name)
    return BenchConfig(folder, load_robot([robot_file]), note)
