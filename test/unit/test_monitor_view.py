"""What `llm-mas-ros monitor` draws, from typed statuses: no ROS, no terminal."""

import math
from dataclasses import replace

import pytest
from rich.console import Console

from llm_mas_ros.core.control.agent import AgentState, AgentStatus, Level
from llm_mas_ros.core.planning.execution import ExecutionState
from llm_mas_ros.core.planning.plan import Goal, Plan
from llm_mas_ros.core.planning.status import PlannerStatus
from llm_mas_ros.ros.monitor_view import STALE_S, Board, Latency, render


def agent(name: str, state: AgentState = AgentState.IDLE, **fields) -> AgentStatus:
    values = dict(
        name=name,
        state=state,
        level=Level.OK,
        message=state.value,
        goal="",
        goal_count=0,
        goal_digest="",
        target=None,
        position=0.0,
        progress=0.0,
        error="",
        goal_received_at=None,
        first_command_at=None,
    )
    return AgentStatus(**{**values, **fields})


def planner(**fields) -> PlannerStatus:
    """A ready rules planner's status before any instruction, with `fields` changed."""
    return replace(PlannerStatus(Level.OK, "ready", True, "", "rules", 0), **fields)


def screen(board: Board, now: float = 10.0, width: int = 160) -> str:
    console = Console(width=width, record=True, color_system=None, force_terminal=False)
    console.print(render(board, now))
    return console.export_text()


def words(text: str) -> str:
    """`text` with every run of blanks one space: the planner's lines, label and value."""
    return " ".join(text.split())


def row_of(text: str, name: str) -> str:
    (line,) = [line for line in text.splitlines() if f" {name} " in line]
    return line


@pytest.fixture()
def board(arm) -> Board:
    return Board(arm)


def test_every_agent_of_the_robot_is_listed_before_it_reports(arm, board):
    text = screen(board)
    for a in arm.agents:
        assert "no status" in row_of(text, a.name)
    assert "planner no status heard" in words(text)


def test_an_agent_row_shows_state_goal_target_position_and_error(board):
    board.hear_agents(
        [
            agent("elbow", AgentState.MOVING, goal="move to 45 deg", target=math.radians(45)),
            agent("gripper", AgentState.ERROR, error="cannot parse 'fly'", target=0.04),
        ],
        now=9.0,
    )
    board.hear_joints({"elbow_joint": math.radians(30.0), "gripper_finger_joint": 0.012})
    text = screen(board)
    elbow = row_of(text, "elbow")
    assert "moving" in elbow and "move to 45 deg" in elbow
    assert "45.0 deg" in elbow and "30.0 deg" in elbow  # target, then /joint_states' position
    gripper = row_of(text, "gripper")
    assert "error" in gripper and "40.0 mm" in gripper and "12.0 mm" in gripper
    assert "cannot parse 'fly'" in gripper
    assert "p50 ms" not in text  # no status carries latencies: no empty columns


def test_the_position_falls_back_to_the_status_and_nan_is_shown_as_unknown(board):
    board.hear_agents(
        [agent("wrist_1", position=math.radians(-10)), agent("wrist_2", position=math.nan)], 9.0
    )
    text = screen(board)
    assert "-10.0 deg" in row_of(text, "wrist_1")
    assert "deg" not in row_of(text, "wrist_2")


def test_latency_columns_appear_when_a_status_carries_them(board):
    board.hear_agents([agent("elbow")], 9.0)
    board.hear_latency("elbow", Latency(0.412, 1.25))
    text = screen(board)
    assert "p50 ms" in text and "p99 ms" in text
    assert "0.41" in row_of(text, "elbow") and "1.25" in row_of(text, "elbow")


def test_a_silent_agent_is_shown_as_such(board):
    board.hear_agents([agent("elbow", AgentState.DONE)], now=1.0)
    assert "done (silent)" in row_of(screen(board, now=1.0 + STALE_S + 0.1), "elbow")
    assert "(silent)" not in row_of(screen(board, now=1.0 + STALE_S - 0.1), "elbow")


def test_an_agent_of_another_robot_is_added_when_heard(board):
    board.hear_agents([agent("left_wheel", AgentState.MOVING)], 9.0)
    assert "moving" in row_of(screen(board), "left_wheel")


def test_the_planner_shows_its_instruction_state_and_step(board):
    plan = Plan(
        "open the gripper then elbow to 45 degrees",
        "rules",
        ((Goal("gripper", "open", 0.04, 1.0),), (Goal("elbow", "move to 45 deg", 0.785, 1.2),)),
    )
    board.hear_planner(
        planner(
            message="step 2 of 2",
            instruction_count=3,
            state=ExecutionState.RUNNING,
            instruction=plan.instruction,
            step=2,
            plan=plan,
        ),
        now=9.0,
    )
    text = words(screen(board))
    assert "planner running" in text
    assert "instruction open the gripper then elbow to 45 degrees" in text
    assert "step 2/2" in text and "message step 2 of 2" in text


def test_a_ready_planner_before_any_instruction_and_a_failure_reason(board):
    board.hear_planner(planner(), now=9.0)
    assert "planner ready" in words(screen(board))
    board.hear_planner(
        planner(state=ExecutionState.FAILED, instruction="fly", reason="does not understand"),
        now=9.5,
    )
    text = words(screen(board))
    assert "planner failed" in text and "reason does not understand" in text
    board.hear_planner(None, now=9.6)  # an array without a planner status changes nothing
    assert "planner failed" in words(screen(board))
