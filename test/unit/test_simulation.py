"""The embedded MuJoCo simulator, without ROS."""

import math

import numpy as np
import pytest

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.robot.model import joint_order
from llm_mas_ros.core.sim.arm import ArmSimulation
from llm_mas_ros.core.sim.sim_settings import (
    SimSettings,
    initial_positions,
    sim_settings_from_params,
)


@pytest.fixture()
def sim(arm):
    return ArmSimulation(arm)


def test_the_simulator_is_built_from_the_urdf_with_one_servo_per_agent(arm, sim):
    assert sim.joint_names == arm.joint_names
    assert sim.model.nu == len(arm.agents)
    assert sim.timestep == pytest.approx(1 / 500)
    for index, agent in enumerate(arm.agents):
        low, high = sim.model.actuator_ctrlrange[index]
        assert (low, high) == pytest.approx((agent.joint.lower, agent.joint.upper))
        assert sim.model.actuator_forcerange[index][1] == pytest.approx(agent.joint.effort)


def test_the_arm_holds_its_initial_pose_against_gravity(sim):
    sim.reset({"shoulder_lift_joint": 1.2, "elbow_joint": -1.0})
    start = sim.positions
    sim.step(1000)  # 2 s
    assert np.abs(sim.positions - start).max() < 1e-3


@pytest.mark.parametrize(
    "joint, target",
    [
        ("elbow_joint", math.radians(45)),
        ("shoulder_pan_joint", -0.5),
        ("shoulder_lift_joint", 1.0),
        ("gripper_finger_joint", 0.04),
    ],
)
def test_position_commands_are_reached(arm, sim, joint, target):
    index = arm.joint_names.index(joint)
    assert sim.set_command(index, target)
    sim.step(1500)  # 3 s
    assert sim.positions[index] == pytest.approx(target, abs=0.002)


def test_commands_are_clipped_to_limits_and_nan_is_refused(arm, sim):
    index = arm.joint_names.index("elbow_joint")
    assert not sim.set_command(index, math.nan)
    sim.set_command(index, 100.0)
    assert sim.commands[index] == pytest.approx(arm.joints["elbow_joint"].upper)


def test_stepping_is_stable_under_a_violent_command_sequence(arm, sim):
    rng = np.random.default_rng(0)
    for _ in range(200):
        for index, agent in enumerate(arm.agents):
            sim.set_command(index, rng.uniform(agent.joint.lower, agent.joint.upper))
        sim.step(10)
    assert np.all(np.isfinite(sim.positions)) and np.all(np.abs(sim.velocities) < 100)


def test_the_mimic_finger_follows_the_gripper(arm, sim):
    index = arm.joint_names.index("gripper_finger_joint")
    sim.set_command(index, 0.03)
    sim.step(1500)
    right = sim.data.qpos[sim.model.joint("gripper_right_finger_joint").qposadr[0]]
    assert right == pytest.approx(0.03, abs=1e-3)


def test_advance_to_steps_to_a_wall_clock_time(sim):
    assert sim.advance_to(0.1) == 50 and sim.time == pytest.approx(0.1)
    assert sim.advance_to(0.1) == 0


def test_initial_positions_and_reset_validation(arm, sim):
    assert initial_positions(arm, "ready")["elbow_joint"] == 1.2
    assert initial_positions(arm, "ready")["gripper_finger_joint"] == 0.0
    with pytest.raises(ConfigError, match="not a simulated agent joint"):
        sim.reset({"gripper_right_finger_joint": 0.01})


def test_settings_are_validated():
    assert sim_settings_from_params({"physics_rate_hz": 1000}).physics_rate_hz == 1000.0
    with pytest.raises(ConfigError, match="cannot exceed"):
        sim_settings_from_params({"publish_rate_hz": 2000.0})
    assert SimSettings().physics_rate_hz >= 500  # the issue asks for >= 500 Hz physics


def test_joint_order_maps_message_names_to_agents():
    assert joint_order(["b", "a", "x"], ["a", "b", "c"]) == [1, 0, -1]
