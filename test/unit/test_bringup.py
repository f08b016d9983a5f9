"""The node list behind `ros2 launch` and `llm-mas-ros up`, and the launch file over it."""

import importlib.util

import pytest

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.robot import param_files as P
from llm_mas_ros.core.robot.share import share_path
from llm_mas_ros.launcher.bringup import FASTDDS_PROFILE_ENV, NodeSpec, dds_environment, node_list


def test_default_bringup_is_sim_agents_planner():
    specs = node_list()
    assert [s.executable for s in specs] == ["llm_mas_sim", "llm_mas_agents", "llm_mas_planner"]
    assert [s.name for s in specs] == ["mujoco_sim", None, "planner"]
    robot_yaml = str(share_path("config", "robot.yaml"))
    assert all(spec.parameter_files[0] == robot_yaml for spec in specs)


def test_sim_none_leaves_the_simulator_out():
    assert "llm_mas_sim" not in [s.executable for s in node_list(sim="none")]


def test_separate_agents_get_a_process_each_with_distinct_host_names(arm):
    specs = [s for s in node_list(agents="separate") if s.executable == "llm_mas_agents"]
    assert [s.parameters["agents"] for s in specs] == [[name] for name in arm.agent_names]
    renames = {dict(s.remappings)["agent_host:__node"] for s in specs}
    assert len(renames) == len(arm.agents)


def test_planner_backend_override_and_remappings_are_passed():
    spec = node_list(planner_backend="smollm2", remappings=[("joint_states", "/arm/js")])[-1]
    assert spec.parameters == {"backend": "smollm2"}
    args = spec.ros_arguments()
    assert args[:3] == ["--ros-args", "-r", "__node:=planner"]
    # Scoped to the node: planner.yaml's own 'planner' section would outrank an unscoped -p.
    assert args[args.index("-p") : args.index("-p") + 2] == ["-p", "planner:backend:=smollm2"]
    assert "joint_states:=/arm/js" in args


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sim": "gazebo"}, "sim must be one of"),
        ({"agents": "some"}, "agents must be one of"),
        ({"config_dir": "/nonexistent"}, "missing config file"),
    ],
)
def test_bad_bringup_arguments_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        node_list(**kwargs)


def test_ros_arguments_quote_yaml_values():
    spec = NodeSpec("x", "m", "n", parameters={"s": "a b", "e": "", "l": ["a", "b"], "t": True})
    assert spec.ros_arguments() == [
        "--ros-args",
        "-r",
        "__node:=n",
        "-p",
        "n:s:='a b'",
        "-p",
        "n:e:=''",
        "-p",
        "n:l:=[a,b]",
        "-p",
        "n:t:=true",
    ]


def test_every_process_gets_the_fast_discovery_profile_unless_one_is_set():
    assert dds_environment({})[FASTDDS_PROFILE_ENV].endswith("config/fastdds.xml")
    assert dds_environment({FASTDDS_PROFILE_ENV: "/mine.xml"})[FASTDDS_PROFILE_ENV] == "/mine.xml"
    legacy = {"FASTRTPS_DEFAULT_PROFILES_FILE": "/old.xml"}  # Fast DDS 2.x's name
    assert dds_environment(legacy) == legacy
    assert "initialAnnouncements" in share_path("config", "fastdds.xml").read_text()


def test_config_files_parse_for_the_node_names_the_bringup_uses():
    sim = P.load_parameters([share_path("config", "sim.yaml")], "mujoco_sim")
    planner = P.load_parameters([share_path("config", "planner.yaml")], "planner")
    assert sim["physics_rate_hz"] >= 500 and planner["backend"]


@pytest.mark.skipif(
    importlib.util.find_spec("launch_ros") is None,
    reason="launch/launch_ros have no PyPI wheels; this runs on a ROS 2 install",
)
def test_launch_file_builds_the_same_node_list():  # pragma: no cover - needs a ROS install
    from launch.actions import OpaqueFunction

    from launch import LaunchContext

    spec = importlib.util.spec_from_file_location(
        "bringup", share_path("launch", "bringup.launch.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    context = LaunchContext()
    for entity in description.entities:
        entity.visit(context)
    opaque = next(e for e in description.entities if isinstance(e, OpaqueFunction))
    nodes = opaque.execute(context)
    assert [n.node_executable for n in nodes] == [s.executable for s in node_list()]


def test_launch_file_is_thin_over_node_list():
    import ast

    source = share_path("launch", "bringup.launch.py").read_text()
    tree = ast.parse(source)
    assert "node_list(" in source and "generate_launch_description" in source
    arguments = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "ARGUMENTS"
    )
    declared = {ast.literal_eval(item)[0]: ast.literal_eval(item)[2] for item in arguments.elts}
    assert set(declared) == {"sim", "config", "agents", "planner"}
    assert all(len(text) > 20 for text in declared.values())  # every argument is described
