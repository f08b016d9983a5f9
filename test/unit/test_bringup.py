"""The node list behind `ros2 launch` and `llm-mas-ros up`, and the launch file over it."""

import importlib.util
from xml.etree import ElementTree

import pytest

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.robot import param_files as P
from llm_mas_ros.core.robot.share import share_path
from llm_mas_ros.launcher.bringup import (
    FASTDDS_PROFILE_ENV,
    NodeSpec,
    Xacro,
    dds_environment,
    launch_argv,
    launch_nodes,
    node_list,
)


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
        ({"sim": "webots"}, "sim must be one of"),
        ({"agents": "some"}, "agents must be one of"),
        ({"part": "half"}, "part must be one of"),
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


def test_the_discovery_profile_announces_often_after_its_initial_burst():
    """Fast DDS's default re-announcement every 3 s is what made one late joiner in four wait
    seconds (benchmarks/discovery_bench.py); the profile must keep its period well under 1 s."""
    namespace = {"dds": "http://www.eprosima.com"}
    root = ElementTree.parse(share_path("config", "fastdds.xml")).getroot()
    discovery = root.find(".//dds:builtin/dds:discovery_config", namespace)
    assert discovery is not None
    initial = discovery.find("dds:initialAnnouncements", namespace)
    assert initial is not None and int(initial.findtext("dds:count", "0", namespace)) >= 5
    lease = discovery.find("dds:leaseAnnouncement", namespace)
    assert lease is not None
    period_s = int(lease.findtext("dds:sec", "0", namespace)) + (
        int(lease.findtext("dds:nanosec", "0", namespace)) / 1e9
    )
    assert 0 < period_s < 1.0


def test_config_files_parse_for_the_node_names_the_bringup_uses():
    sim = P.load_parameters([share_path("config", "sim.yaml")], "mujoco_sim")
    planner = P.load_parameters([share_path("config", "planner.yaml")], "planner")
    assert sim["physics_rate_hz"] >= 500 and planner["backend"]


ROBOT = str(share_path("config", "robot.yaml"))
PLANNER = str(share_path("config", "planner.yaml"))
CONTROLLERS = str(share_path("config", "controllers.yaml"))
XACRO = str(share_path("urdf", "llm_arm.urdf.xacro"))
AGENTS = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper")


def _argvs(**arguments):
    """Each node's command line as launch_ros builds it, executables named package/executable."""
    return [launch_argv(s, f"{s.package}/{s.executable}") for s in launch_nodes(**arguments)]


def _planner(*overrides):
    files = ["--params-file", ROBOT, "--params-file", PLANNER]
    return ["llm_mas_ros/llm_mas_planner", "--ros-args", *files, *overrides, "--ros-args",
            "-r", "__node:=planner"]  # fmt: skip


def _spawner(controller, *clock):
    return [
        "controller_manager/spawner",
        controller,
        "--controller-manager",
        "/controller_manager",
        "--ros-args",
        *clock,
        "--ros-args",
    ]


def test_mujoco_bringup_command_lines():
    assert _argvs(planner_backend="rules") == [
        [
            "llm_mas_ros/llm_mas_sim",
            "--ros-args",
            "--params-file",
            ROBOT,
            "--params-file",
            str(share_path("config", "sim.yaml")),
            "--ros-args",
            "-r",
            "__node:=mujoco_sim",
        ],
        ["llm_mas_ros/llm_mas_agents", "--ros-args", "--params-file", ROBOT, "--ros-args"],
        # The launch argument comes after the files that it overrides, scoped to the node.
        _planner("-p", "planner:backend:=rules"),
    ]


def test_separate_agents_each_host_only_their_agent():
    agents = [a for a in _argvs(sim="none", agents="separate") if a[0].endswith("_agents")]
    assert agents == [
        [
            "llm_mas_ros/llm_mas_agents",
            "--ros-args",
            "--params-file",
            ROBOT,
            "-p",
            f"agents:=[{name}]",
            "-r",
            f"agent_host:__node:=agent_host_{name}",
            "--ros-args",
        ]
        for name in AGENTS
    ]


def test_hardware_bringup_runs_ros2_control_with_the_chosen_plugin():
    specs = launch_nodes(sim="none", hardware="my_driver/MyArmSystem")
    assert specs[0].parameters == {
        "robot_description": Xacro(XACRO, (("hardware", "my_driver/MyArmSystem"),))
    }
    assert _argvs(sim="none", hardware="my_driver/MyArmSystem")[:10] == [
        [
            "robot_state_publisher/robot_state_publisher",
            "--ros-args",
            "--ros-args",
            "-r",
            "__node:=robot_state_publisher",
            "--params-file",
            "<params>",
        ],
        [
            "controller_manager/ros2_control_node",
            "--ros-args",
            "--params-file",
            CONTROLLERS,
            "-r",
            "~/robot_description:=/robot_description",
            "--ros-args",
            "-r",
            "__node:=controller_manager",
        ],
        _spawner("joint_state_broadcaster"),
        *(_spawner(f"{agent}_position_controller") for agent in AGENTS),
    ]
    assert "llm_mas_ros/llm_mas_sim" not in [a[0] for a in _argvs(sim="none")]


def test_gazebo_bringup_spawns_bridges_the_clock_and_puts_every_node_on_sim_time():
    specs = launch_nodes(sim="gazebo")
    assert specs[0].xacro_parameters() == {
        "robot_description": Xacro(XACRO, (("hardware", "gazebo"), ("controllers", CONTROLLERS)))
    }
    argvs = _argvs(sim="gazebo")
    assert argvs[:4] == [
        [
            "robot_state_publisher/robot_state_publisher",
            "--ros-args",
            "-p",
            "robot_state_publisher:use_sim_time:=true",
            "--ros-args",
            "-r",
            "__node:=robot_state_publisher",
            "--params-file",
            "<params>",
        ],
        [
            "ros_gz_sim/create",
            "-topic",
            "robot_description",
            "-name",
            "llm_arm",
            "--ros-args",
            "--ros-args",
        ],
        [
            "ros_gz_bridge/parameter_bridge",
            "/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock",
            "--ros-args",
            "--ros-args",
            "-r",
            "__node:=clock_bridge",
        ],
        _spawner("joint_state_broadcaster", "-p", "use_sim_time:=true"),
    ]
    assert argvs[-2:] == [
        [
            "llm_mas_ros/llm_mas_agents",
            "--ros-args",
            "--params-file",
            ROBOT,
            "-p",
            "use_sim_time:=true",
            "--ros-args",
        ],
        _planner("-p", "planner:use_sim_time:=true"),
    ]
    # The clock bridge and `create` need no clock; everything else follows /clock.
    on_wall_clock = [a[0] for a in argvs if not any("use_sim_time:=true" in x for x in a)]
    assert on_wall_clock == ["ros_gz_sim/create", "ros_gz_bridge/parameter_bridge"]


@pytest.mark.parametrize(
    "part, executable", [("agents", "llm_mas_agents"), ("planner", "llm_mas_planner")]
)
def test_one_part_per_machine(part, executable):
    assert [a[0] for a in _argvs(sim="gazebo", part=part)] == [f"llm_mas_ros/{executable}"]
    assert not any("use_sim_time" in x for a in _argvs(part=part) for x in a)
    assert all("use_sim_time:=true" in " ".join(a) for a in _argvs(part=part, use_sim_time=True))


def test_the_robot_part_is_what_drives_the_joints():
    assert [a[0] for a in _argvs(part="robot")] == ["llm_mas_ros/llm_mas_sim"]
    robot = _argvs(sim="none", part="robot")
    assert robot == _argvs(sim="none")[: len(robot)] and len(robot) == 2 + 1 + len(AGENTS)


def test_xacro_parameters_are_refused_by_the_pip_launcher():
    with pytest.raises(ConfigError, match="needs xacro at launch"):
        launch_nodes(sim="none")[0].ros_arguments()


def test_launch_files_describe_every_argument():
    import ast

    for file, arguments in {
        "bringup.launch.py": {
            "sim",
            "hardware",
            "config",
            "agents",
            "planner",
            "part",
            "use_sim_time",
            "gz_args",
        },
        "agents.launch.py": {"agents"},  # + bringup's PART_ARGUMENTS: config, use_sim_time
        "planner.launch.py": {"planner"},
    }.items():
        tree = ast.parse(share_path("launch", file).read_text())
        declared = next(
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign) and node.targets[0].id == "ARGUMENTS"
        )
        parts = next(
            (
                node.value.elts
                for node in tree.body
                if isinstance(node, ast.Assign) and node.targets[0].id == "PART_ARGUMENTS"
            ),
            [],
        )
        texts = {
            ast.literal_eval(item)[0]: ast.literal_eval(item)[2]
            for item in [*declared.elts, *parts]
        }
        assert set(texts) >= arguments, file
        assert all(len(text) > 20 for text in texts.values()), file


@pytest.mark.skipif(
    importlib.util.find_spec("launch_ros") is None,
    reason="launch/launch_ros have no PyPI wheels; this runs on a ROS 2 install",
)
@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"planner": "rules", "agents": "separate"},
        {"sim": "none", "hardware": "mock"},
        {"sim": "gazebo", "planner": "rules"},
        {"part": "agents", "use_sim_time": "true"},
    ],
)
def test_real_launch_api_builds_the_expected_command_lines(arguments):  # pragma: no cover
    """Each launch_ros Node's command, expanded by launch itself, is launch_argv() of its spec
    (the generated parameter file's temporary name aside), for the launch file's own call."""
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.utilities import perform_substitutions
    from launch_ros.actions import Node

    source = importlib.util.spec_from_file_location(
        "bringup_launch", share_path("launch", "bringup.launch.py")
    )
    module = importlib.util.module_from_spec(source)
    source.loader.exec_module(module)
    context = LaunchContext()
    context.launch_configurations.update(arguments)
    description = module.generate_launch_description()
    for entity in description.entities:
        if isinstance(entity, DeclareLaunchArgument):
            entity.execute(context)  # sets the default of an argument not given
    opaque = next(e for e in description.entities if isinstance(e, OpaqueFunction))
    nodes = [action for action in opaque.execute(context) if isinstance(action, Node)]
    value = {name: context.launch_configurations[name] for name, _, _ in module.ARGUMENTS}
    specs = module.specs_for(value)
    assert len(nodes) == len(specs)
    for node, spec in zip(nodes, specs, strict=True):
        node._perform_substitutions(context)  # what Node.execute() does before it starts
        names = {"name": f"__node:={spec.name}"} if spec.name else {}
        context.extend_locals({"ros_specific_arguments": names})
        argv = [perform_substitutions(context, part) for part in node.cmd]
        assert argv == launch_argv(spec, argv[0], generated_file=argv[-1])
        assert argv[0].endswith(f"/{spec.executable}")
