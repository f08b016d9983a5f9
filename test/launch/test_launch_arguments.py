"""Launch arguments take effect: each node's command line as launch_ros builds it
(launch_argv), parsed by rcl itself, gives the node the argument's value, not the YAML's."""

import pytest
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.context import Context
from rclpy.node import Node

from llm_mas_ros.launcher.bringup import HOST_NODE, launch_argv, launch_nodes


def _parameter(argv, node_name, name):
    """`name` as the node `node_name` sees it, started with `argv` (its name may be remapped)."""
    context = Context()
    rclpy.init(args=argv, context=context)
    try:
        node = Node(node_name, context=context)
        try:
            if not node.has_parameter(name):  # use_sim_time: every rclpy node declares it
                node.declare_parameter(name, None, ParameterDescriptor(dynamic_typing=True))
            return node.get_name(), node.get_parameter(name).value
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def _argv(spec):
    return launch_argv(spec, spec.executable)


def test_planner_argument_beats_planner_yaml():
    planner = launch_nodes(planner_backend="rules")[-1]
    assert _parameter(_argv(planner), "planner", "backend") == ("planner", "rules")
    default = launch_nodes()[-1]
    assert _parameter(_argv(default), "planner", "backend") == ("planner", "smollm2")


@pytest.mark.parametrize("index, agent", [(0, "shoulder_pan"), (6, "gripper")])
def test_each_separate_agents_process_hosts_only_its_agent(index, agent):
    processes = [s for s in launch_nodes(agents="separate") if s.executable == "llm_mas_agents"]
    name, hosted = _parameter(_argv(processes[index]), HOST_NODE, "agents")
    assert (name, hosted) == (f"{HOST_NODE}_{agent}", [agent])


def test_gazebo_puts_our_nodes_on_sim_time():
    for spec in launch_nodes(sim="gazebo")[-2:]:
        node_name = spec.name or HOST_NODE
        assert _parameter(_argv(spec), node_name, "use_sim_time")[1] is True
    assert _parameter(_argv(launch_nodes()[-1]), "planner", "use_sim_time")[1] is False
