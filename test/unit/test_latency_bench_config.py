"""The bench's robots: copies of the reference arm side by side (one URDF tree, renamed joints
and controllers, the reference's limits and agent settings), weights for every copied agent,
and the naive build's eager torch policy computing what the tuned numpy policy does."""

import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from llm_mas_ros.core.control.learned_policy import PolicyWeights, export_weights, torch_model
from llm_mas_ros.core.control.policies import Observation
from llm_mas_ros.core.robot.model import RobotModel, load_urdf
from llm_mas_ros.latency_bench.bench_config import (
    COPY_SPACING_M,
    arms_urdf,
    copy_name,
    duplicated_types,
    write_config,
)


@pytest.fixture(scope="module")
def two_arms(tmp_path_factory: pytest.TempPathFactory):
    return write_config(tmp_path_factory.mktemp("arms"), copies=2, policy="learned")


def test_copy_names():
    assert copy_name(0, "elbow_joint") == "elbow_joint"
    assert copy_name(3, "elbow_joint") == "c3_elbow_joint"


def test_two_arms_have_every_agent_twice_with_the_same_limits(arm: RobotModel, two_arms):
    robot = two_arms.robot
    assert len(robot.agents) == 2 * len(arm.agents) == 14
    assert robot.agent_names == (*arm.agent_names, *(f"c1_{n}" for n in arm.agent_names))
    for reference in arm.agents:
        copied = robot.agent(f"c1_{reference.name}")
        assert copied.joint.name == f"c1_{reference.joint.name}"
        assert (copied.joint.lower, copied.joint.upper) == (
            reference.joint.lower,
            reference.joint.upper,
        )
        assert copied.command_topic != reference.command_topic
        assert copied.command_topic.startswith("c1_")
    assert len(set(robot.joint_names)) == 14


def test_the_copies_are_one_tree_beside_each_other(arm: RobotModel):
    root = ElementTree.fromstring(arms_urdf(arm.urdf_xml, 3))
    links = [link.get("name") for link in root.iter("link")]
    assert len(links) == len(set(links))  # no name twice
    children = {child.get("link") for child in root.iter("child")}
    assert len(set(links) - children) == 1  # one root: the reference's world
    offsets = [
        joint.find("origin").get("xyz")
        for joint in root.iter("joint")
        if joint.get("name", "").startswith("c2_")
        and joint.find("parent").get("link") in (set(links) - children)
    ]
    assert offsets == [f"0 {2 * COPY_SPACING_M:g} 0"]


def test_one_copy_is_the_reference_urdf(arm: RobotModel, two_arms):
    one = ElementTree.fromstring(arms_urdf(arm.urdf_xml, 1))
    assert [j.get("name") for j in one.iter("joint")] == [
        j.get("name") for j in ElementTree.fromstring(arm.urdf_xml).iter("joint")
    ]
    assert load_urdf(two_arms.folder / "arms.urdf")  # written where robot.yaml points


def test_the_config_folder_is_whole(two_arms):
    for name in ("robot.yaml", "sim.yaml", "planner.yaml", "weights.npz"):
        assert (two_arms.folder / name).is_file()
    assert two_arms.robot.control.policy_weights_path() == two_arms.folder / "weights.npz"


def test_copied_agents_get_their_reference_agents_type_row(two_arms):
    weights = PolicyWeights.load(two_arms.folder / "weights.npz")
    names = list(weights.type_names)
    assert names == list(two_arms.robot.agent_names)
    arrays = {"hidden0_w": np.arange(12.0).reshape(4, 3), "type_names": np.array(["a", "b"])}
    doubled = duplicated_types(arrays, 2)
    assert list(doubled["type_names"]) == ["a", "b", "c1_a", "c1_b"]
    assert np.array_equal(doubled["hidden0_w"][4:], arrays["hidden0_w"][2:])
    assert np.array_equal(doubled["hidden0_w"][:4], arrays["hidden0_w"])


def test_the_naive_torch_policy_computes_the_tuned_policys_commands(arm: RobotModel):
    torch = pytest.importorskip("torch")
    from llm_mas_ros.core.control.learned_policy import LearnedPolicy
    from llm_mas_ros.core.control.torch_policy import TorchPolicy
    from llm_mas_ros.core.language.agent_language import parse_subgoal

    torch.manual_seed(0)
    model = torch_model(arm.agent_names, 4, hidden=(16, 8))
    with torch.no_grad():  # FiLM away from identity: both paths must read the embedding
        for layer in [*model.gamma, *model.beta]:
            layer.bias.normal_(0.0, 0.3)
            layer.weight.normal_(0.0, 0.3)
    weights = export_weights(model)
    count = len(arm.agents)
    obs = Observation.zeros(count, 4)
    obs.lower[:] = [a.joint.lower for a in arm.agents]
    obs.upper[:] = [a.joint.upper for a in arm.agents]
    obs.position[:] = 0.3 * obs.lower + 0.7 * obs.upper
    obs.segment_start[:] = obs.position
    obs.segment_target[:] = obs.position + 0.02
    obs.duration_s[:] = 1.0
    obs.elapsed_s[:] = 0.25
    for row, agent in enumerate(arm.agents[:-1]):
        embedding = np.random.default_rng(row).normal(size=4).astype(np.float32)
        obs.set_goal(row, parse_subgoal("move to 20 degrees slowly", agent), 0.35, embedding)
    numpy_commands = LearnedPolicy(weights, arm.agent_names).act(obs).copy()
    names = arm.agent_names
    torch_commands = np.array(
        [TorchPolicy(weights, [n]).act(_row(obs, i))[0] for i, n in enumerate(names)]
    )
    assert np.allclose(torch_commands, numpy_commands, atol=1e-5)


def _row(obs: Observation, index: int) -> Observation:
    """Agent `index`'s row alone: what a naive agent steps."""
    return obs.rows(index)
