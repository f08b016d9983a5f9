"""Parameters: a node declares every robot setting that config/robot.yaml holds."""

from rclpy.node import Node

from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.ros.params import declare_robot


def test_a_node_sees_the_same_robot_as_the_yaml_file(ros):
    """Every key of robot.yaml must be declared, or a node silently runs with its default
    (the ROS parameter files reach nodes only for declared parameters)."""
    node = Node("params_probe")
    try:
        declared = declare_robot(node)
    finally:
        node.destroy_node()
    from_file = load_robot()
    assert declared.agents == from_file.agents
    assert declared.poses == from_file.poses
    assert declared.control == from_file.control
    assert any(agent.directions.positive for agent in declared.agents)
