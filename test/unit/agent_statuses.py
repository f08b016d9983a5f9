"""AgentStatus values for unit tests of the planner's decisions (no ROS)."""

from llm_mas_ros.core.control.agent import AgentState, AgentStatus, Level, goal_digest
from llm_mas_ros.core.planning.plan import Goal

ELBOW_30 = (Goal("elbow", "move to 30 deg", 0.52, 1.0),)
OPEN = (Goal("gripper", "open", 0.04, 1.0),)


def status(agent, state="idle", goal="", count=0, position=0.0, ready=True):
    """What `agent` reports: a ready agent (joint state heard, commands matched) by default."""
    return AgentStatus(
        name=agent,
        state=AgentState(state),
        level=Level.OK,
        message=state,
        goal=goal,
        goal_count=count,
        goal_digest=goal_digest(goal) if count else "",
        target=None,
        position=position,
        progress=0.0,
        error="",
        goal_received_at=None,
        first_command_at=None,
        ready=ready,
        readiness="ready" if ready else "no subscriber on /elbow_position_controller/commands",
    )
