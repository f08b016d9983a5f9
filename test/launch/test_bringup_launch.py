"""bringup.launch.py as a ROS user starts it, under launch_pytest: the MuJoCo sim, the agents
and the planner come up, an instruction moves the arm, and Ctrl-C leaves nothing behind.

Every wait is on a message (GraphClient: /joint_states and the planner's ready status on
/diagnostics) with a timeout, never on a sleep. The DDS domain is this session's own
(test/conftest.py), and the launched processes inherit it.
"""

import math
import os

import pytest

launch_pytest = pytest.importorskip(
    "launch_pytest",
    reason="launch_pytest is not importable: it comes with a ROS 2 install, not as a PyPI wheel",
)

import rclpy  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription, RegisterEventHandler  # noqa: E402
from launch.event_handlers import OnProcessExit, OnProcessStart  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rcl_interfaces.msg import ParameterType  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402

from llm_mas_ros.core.robot.model import load_robot  # noqa: E402
from llm_mas_ros.core.robot.share import share_path  # noqa: E402
from llm_mas_ros.ros.client import GraphClient  # noqa: E402
from llm_mas_ros.ros.graph import spin_until  # noqa: E402

ROBOT = load_robot()
TOLERANCE = 0.02  # rad, the acceptance tolerance
READY_TIMEOUT_S = 60.0  # process start, DDS discovery, the planner's first status
OURS = {"mujoco_sim", "planner", "agent_host", *ROBOT.agent_names}


class Processes:
    """Every process the launch starts and how it ended, from launch's own events."""

    def __init__(self):
        self.started = {}  # action -> pid
        self.exit_codes = {}  # action -> return code

    def handlers(self):
        return [
            RegisterEventHandler(OnProcessStart(on_start=self._on_start)),
            RegisterEventHandler(OnProcessExit(on_exit=self._on_exit)),
        ]

    def _on_start(self, event, context):
        self.started[event.action] = event.pid

    def _on_exit(self, event, context):
        self.exit_codes[event.action] = event.returncode


PROCESSES = Processes()


@launch_pytest.fixture(scope="module")
def bringup():
    source = PythonLaunchDescriptionSource(str(share_path("launch", "bringup.launch.py")))
    return LaunchDescription(
        [
            *PROCESSES.handlers(),
            # planner:=rules: an instruction in the agent language needs no model.
            IncludeLaunchDescription(
                source, launch_arguments={"sim": "mujoco", "planner": "rules"}.items()
            ),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


@pytest.fixture(scope="module")
def client():
    rclpy.init()
    graph = GraphClient(ROBOT, node_name=f"launch_test_{os.getpid()}")
    try:
        yield graph
    finally:
        graph.close()
        rclpy.shutdown()


def parameter(client, node, name):
    """A parameter's value through the node's parameter service, as `ros2 param get` reads it."""
    service = client.node.create_client(GetParameters, f"{node}/get_parameters")
    assert service.wait_for_service(timeout_sec=10.0), f"{node} offers no parameter service"
    future = service.call_async(GetParameters.Request(names=[name]))
    assert spin_until(client.executor, future.done, 10.0), f"{node} did not answer"
    (value,) = future.result().values
    assert value.type == ParameterType.PARAMETER_STRING, value
    return value.string_value


@pytest.mark.launch(fixture=bringup)
def test_bringup_moves_the_arm_and_leaves_nothing_after_shutdown(client):
    client.wait_ready(READY_TIMEOUT_S)  # /joint_states from every joint, the planner ready
    assert set(client.fresh_positions()) == set(ROBOT.joint_names)
    names = {name for name, _ in client.node.get_node_names_and_namespaces()}
    assert {"mujoco_sim", "planner", "agent_host", *ROBOT.agent_names} <= names

    outcome = client.execute("elbow to 45 degrees", 60.0)
    assert outcome.ok, outcome.reason
    assert outcome.final_positions["elbow_joint"] == pytest.approx(math.radians(45), abs=TOLERANCE)
    # A launch argument takes effect: `ros2 param get /planner backend` is planner:=rules, not
    # planner.yaml's smollm2.
    assert parameter(client, "/planner", "backend") == "rules"

    yield  # launch_pytest shuts the launch down (SIGINT to every process), then resumes here

    assert PROCESSES.started, "the launch started no process"
    assert set(PROCESSES.exit_codes) == set(PROCESSES.started), "a process did not exit"
    failed = {a.process_details["name"]: c for a, c in PROCESSES.exit_codes.items() if c != 0}
    assert failed == {}, "Ctrl-C must exit 0"
    for pid in PROCESSES.started.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # no process of the launch is left running

    def gone():
        return not OURS & {name for name, _ in client.node.get_node_names_and_namespaces()}

    assert spin_until(client.executor, gone, 10.0), "nodes of the launch are still in the graph"
