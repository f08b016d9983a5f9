"""Faults on the real graph (issue 13, item 3): a process killed mid-motion, restarted,
paused. Each test starts a whole graph of its own on a DDS domain no one else uses
(`drill_graph`), injects the fault with a signal and waits on messages (statuses, states,
commands) with generous, finite timeouts; never on sleeps.

The agents of one robot share ONE process by default (`agents: grouped`): killing it kills
them all. With `agents: separate` each agent has its own process, and one can die alone (the
drill gives its two agents a process each, as `separate` does, and the rest one, to start
fewer processes).

The contract each test checks (and what it measures for benchmarks/results/faults.md):
  * an agent process killed -> the planner fails the running step within agent_timeout_s
    (config/planner.yaml), naming the agent, under the instruction's id; the planner tells the
    step's other agents to hold; a joint whose agent died stays where its last command left
    it (a position controller keeps its last command);
  * the agents restarted -> the planner sees them again and runs a new instruction to done;
    their standing goal (the latched <agent>/goal) is the hold the planner sent when the
    step failed, so they hold where the joint is (robot.yaml `on_rejoin: standing_goal`, the
    default; test/ros/test_realtime_agents.py checks `hold`); a standing goal heard before the
    first joint state waits for it;
  * the planner killed -> the agents finish their current goal and hold;
  * the sim killed and restarted -> the agents send nothing while the state is stale and
    resume from the new sim's state, without a jump;
  * /joint_states stalls (the sim paused) -> within state_timeout_periods control periods the
    agents send no command (the controller holds the last) and report WARN 'stalled'; past
    state_timeout_s they fail the goal; resumed, nothing jumps and a new instruction runs.
"""

import math
import signal

import pytest

from llm_mas_ros.core.control.agent import AgentState, AgentStatus, Level
from llm_mas_ros.core.planning.execution import ExecutionState
from llm_mas_ros.core.planning.planner_settings import planner_settings_from_params
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.core.robot.param_files import load_parameters
from llm_mas_ros.core.sim.sim_settings import initial_positions
from llm_mas_ros.launcher.bringup import config_files
from llm_mas_ros.ros.runtime import monotonic

ROBOT = load_robot()
_FILES = config_files()
PLANNER = planner_settings_from_params(
    load_parameters([_FILES["robot"], _FILES["planner"]], "planner")
)
SIM_START = initial_positions(
    ROBOT, load_parameters([_FILES["sim"]], "mujoco_sim")["initial_pose"]
)
AGENTS = "llm_mas_ros.nodes.agents_node"
PLANNER_NODE = "llm_mas_ros.nodes.planner_node"
SIM = "llm_mas_ros.nodes.sim_node"
TOLERANCE = 0.02  # rad, the acceptance tolerance
SLACK_S = 2.0  # on top of a configured timeout: status periods, the planner's tick, a busy CPU
LONG_MOVE = "wrist_1 to 90 degrees in 8 s"  # still far from its target when a fault hits
MOVING = 0.1  # rad from its start: the joint is moving


def moving(graph, joint="wrist_1_joint"):
    start = SIM_START[joint]
    graph.until(lambda: abs(graph.position(joint) - start) > MOVING, 15.0, f"{joint} moving")


def unmoved(before, after, except_joints=()):
    return {
        j: (before[j], after[j])
        for j in before
        if j not in except_joints and abs(after[j] - before[j]) > TOLERANCE
    }


def standing_hold(status: AgentStatus | None) -> bool:
    """A restarted agent holding on its standing goal, the planner's hold (heard before or
    after the first joint state: either way it is taken, not refused)."""
    return (
        status is not None
        and status.goal == "hold"
        and math.isfinite(status.position)
        and status.state is AgentState.HOLDING
        and status.error == ""
    )


def kill(graph, running, sig=signal.SIGKILL) -> float:
    """Send `sig` to `running`; returns when (monotonic s)."""
    at = monotonic()
    graph.group.kill(running, sig)
    return at


def test_agents_process_killed_mid_motion_fails_the_step_and_restarted_agents_hold(
    drill_graph, record_result
):
    graph = drill_graph()  # agents grouped: one process for all of them
    before = graph.positions()
    sent = graph.send(LONG_MOVE)
    moving(graph)
    agents = graph.process(AGENTS)
    killed_at = kill(graph, agents)

    outcome = graph.outcome(sent, PLANNER.agent_timeout_s + 10.0)
    assert outcome.state is ExecutionState.FAILED and outcome.instruction_id == sent.number
    assert "agent wrist_1 stopped reporting" in outcome.reason, outcome.reason
    detection_s = outcome.finished_at - killed_at
    record_result("agents process killed (grouped)", detection_ms=detection_s * 1e3)
    assert PLANNER.agent_timeout_s - 0.5 < detection_s <= PLANNER.agent_timeout_s + SLACK_S
    held = graph.settle("wrist_1_joint")  # where its last command left it
    assert held < math.radians(90) - 0.3
    assert unmoved(before, graph.positions(), ["wrist_1_joint"]) == {}

    restarted_at = monotonic()
    graph.group.restart(agents)
    graph.client.wait_ready(60.0, graph.alive)  # the planner sees every agent again
    record_result("agents restarted (grouped)", rejoin_ms=(monotonic() - restarted_at) * 1e3)
    graph.until(
        lambda: standing_hold(graph.heard_since("wrist_1", restarted_at)),
        10.0,
        f"wrist_1 holding on its standing goal: {graph.agent('wrist_1')}",
    )
    others = [graph.agent(name) for name in ROBOT.agent_names if name != "wrist_1"]
    assert all(status.goal_count == 0 for status in others), others  # none had a goal
    assert graph.settle("wrist_1_joint") == pytest.approx(held, abs=2e-3)
    outcome = graph.run("wrist_1 to 10 degrees")
    assert outcome.ok, outcome.reason
    assert outcome.final_positions["wrist_1_joint"] == pytest.approx(
        math.radians(10), abs=TOLERANCE
    )


def test_one_agent_process_killed_fails_the_step_the_others_hold_and_it_rejoins(
    drill_graph, record_result
):
    graph = drill_graph(alone=["wrist_1", "elbow"])  # each its own process, the rest one
    sent = graph.send("wrist_1 to 90 degrees in 8 s and elbow to 60 degrees in 8 s")
    moving(graph)
    wrist_1 = graph.process(AGENTS, agent="wrist_1")
    killed_at = kill(graph, wrist_1)

    outcome = graph.outcome(sent, PLANNER.agent_timeout_s + 10.0)
    assert outcome.state is ExecutionState.FAILED and outcome.instruction_id == sent.number
    assert "agent wrist_1 stopped reporting" in outcome.reason, outcome.reason
    detection_s = outcome.finished_at - killed_at
    record_result("one agent process killed (separate)", detection_ms=detection_s * 1e3)
    assert PLANNER.agent_timeout_s - 0.5 < detection_s <= PLANNER.agent_timeout_s + SLACK_S
    # The elbow, alive, was told to hold (its second goal) and holds short of its target.
    graph.until(
        lambda: (
            (elbow := graph.agent("elbow")) is not None
            and (elbow.goal, elbow.goal_count, elbow.state) == ("hold", 2, AgentState.HOLDING)
        ),
        5.0,
        f"the elbow holding: {graph.agent('elbow')}",
    )
    assert graph.settle("elbow_joint") < math.radians(60) - 0.2
    held = graph.settle("wrist_1_joint")

    restarted_at = monotonic()
    graph.group.restart(wrist_1)
    graph.client.wait_ready(60.0, graph.alive)
    record_result("one agent restarted (separate)", rejoin_ms=(monotonic() - restarted_at) * 1e3)
    graph.until(
        lambda: standing_hold(graph.heard_since("wrist_1", restarted_at)),
        10.0,
        f"wrist_1 holding on its standing goal: {graph.agent('wrist_1')}",
    )
    assert graph.settle("wrist_1_joint") == pytest.approx(held, abs=2e-3)
    outcome = graph.run("wrist_1 to 10 degrees and elbow to 10 degrees")
    assert outcome.ok, outcome.reason
    for joint in ("wrist_1_joint", "elbow_joint"):
        assert outcome.final_positions[joint] == pytest.approx(math.radians(10), abs=TOLERANCE)


def test_a_standing_goal_heard_before_the_first_joint_state_is_taken_not_refused(
    drill_graph, record_result
):
    record_result("standing goal heard before the first joint state (agents restarted)")
    graph = drill_graph()
    assert graph.run("wrist_1 to 20 degrees").ok  # its standing goal: reached, harmless
    sim, agents = graph.process(SIM), graph.process(AGENTS)
    kill(graph, sim, signal.SIGSTOP)  # no state until the restarted agents have their goal
    try:
        kill(graph, agents)
        restarted_at = monotonic()
        graph.group.restart(agents)
        graph.until(
            lambda: (
                (status := graph.heard_since("wrist_1", restarted_at)) is not None
                and status.goal_count == 1
            ),
            30.0,
            "the restarted wrist_1 hearing its standing goal",
        )
    finally:
        resumed_at = kill(graph, sim, signal.SIGCONT)
    graph.until(
        lambda: (
            (status := graph.heard_since("wrist_1", resumed_at + 0.5)) is not None
            and math.isfinite(status.position)
        ),
        10.0,
        "wrist_1 with a joint state again",
    )
    # taken: it runs the goal (from where it is, already there) to its end, no refusal
    graph.until(
        lambda: (
            (status := graph.agent("wrist_1")) is not None
            and status.goal == "move to 20 deg"
            and status.state in (AgentState.DONE, AgentState.HOLDING)
        ),
        5.0,
        f"wrist_1 done with its standing goal: {graph.agent('wrist_1')}",
    )
    status = graph.agent("wrist_1")
    assert status.error == "", status


def test_planner_killed_mid_motion_agents_finish_their_goal_and_hold(drill_graph, record_result):
    graph = drill_graph()
    before = graph.positions()
    graph.send("wrist_1 to 60 degrees in 3 s")
    moving(graph)
    killed_at = kill(graph, graph.process(PLANNER_NODE))

    settle_s = ROBOT.control.settle_timeout_s
    graph.until(
        lambda: (
            (status := graph.heard_since("wrist_1", killed_at)) is not None
            and status.state is AgentState.DONE
        ),
        3.0 + settle_s + 10.0,
        f"wrist_1 done without its planner: {graph.agent('wrist_1')}",
    )
    record_result("planner killed", goal_done_after_ms=(monotonic() - killed_at) * 1e3)
    status = graph.agent("wrist_1")
    assert status.goal == "move to 60 deg in 3 s" and status.goal_count == 1
    assert graph.settle("wrist_1_joint") == pytest.approx(math.radians(60), abs=TOLERANCE)
    assert unmoved(before, graph.positions(), ["wrist_1_joint"]) == {}


def lost_state(status: AgentStatus | None) -> bool:
    return status is not None and "no joint state" in status.error


def test_sim_killed_and_restarted_agents_resume_from_its_new_state_without_a_jump(
    drill_graph, record_result
):
    graph = drill_graph()
    assert graph.run("wrist_1 to 60 degrees").ok  # far from where a new sim starts
    start = SIM_START["wrist_1_joint"]
    sim = graph.process(SIM)
    with graph.recording("wrist_1_joint") as (commands, states):
        killed_at = kill(graph, sim)
        graph.until(
            lambda: lost_state(graph.heard_since("wrist_1", killed_at)),
            ROBOT.control.state_timeout_s + SLACK_S,
            f"wrist_1 noticing the lost state: {graph.agent('wrist_1')}",
        )
        detection_s = graph.agents["wrist_1"][0] - killed_at
        record_result("sim killed and restarted", detection_ms=detection_s * 1e3)
        restarted_at = monotonic()
        graph.group.restart(sim)
        # Both this test and the agents matched the new sim (a late joiner's discovery may
        # take seconds, for each on its own) and the agents act: 0.5 s of states and commands.
        graph.until(
            lambda: (
                sum(s.at > restarted_at for s in states) >= 125
                and sum(c.at > restarted_at for c in commands) >= 50
            ),
            60.0,
            f"the restarted sim's states and the agents' commands: {graph.agent('wrist_1')}",
        )
    new_states = [s for s in states if s.at > restarted_at]
    first = new_states[0]
    # While the state was stale (from a stall's few periods after the kill until the new sim
    # ran), nothing was sent: nothing would drive the new sim back to the old position.
    stall_s = ROBOT.control.state_timeout_periods / ROBOT.control.rate_hz
    assert [c for c in commands if killed_at + stall_s + 0.05 < c.at < restarted_at] == []
    after = [c.value for c in commands if c.at > first.at]
    # The new sim starts at its initial pose, and nothing moves it from there: the agents'
    # commands start at the state it reports.
    assert first.value == pytest.approx(start, abs=TOLERANCE), (first, "moved before")
    assert max(abs(s.value - first.value) for s in new_states) <= TOLERANCE
    assert after and max(abs(value - first.value) for value in after) <= TOLERANCE, after[:5]
    assert graph.run("wrist_1 to 10 degrees").ok


def test_state_stream_stalls_agents_hold_and_recover(drill_graph, record_result):
    graph = drill_graph()
    sent = graph.send(LONG_MOVE)
    moving(graph)
    sim = graph.process(SIM)
    stalled_at: dict[str, float] = {}  # agent -> when its first 'stalled' status was heard

    def all_stalled() -> bool:
        for name in ROBOT.agent_names:
            status = graph.heard_since(name, paused_at)
            if status and status.message.startswith("stalled: no joint state for "):
                assert status.level is Level.WARN, status
                stalled_at.setdefault(name, graph.agents[name][0])
        return len(stalled_at) == len(ROBOT.agent_names)

    with graph.recording("wrist_1_joint") as (commands, states):
        graph.until(lambda: len(commands) > 0, 5.0, "wrist_1 commands")
        paused_at = kill(graph, sim, signal.SIGSTOP)
        try:
            graph.until(all_stalled, ROBOT.control.state_timeout_s, f"stalled: {stalled_at}")
            graph.until(
                lambda: lost_state(graph.heard_since("wrist_1", paused_at)),
                ROBOT.control.state_timeout_s + SLACK_S,
                f"wrist_1 noticing the stall: {graph.agent('wrist_1')}",
            )
            noticed_at = graph.agents["wrist_1"][0]
            outcome = graph.outcome(sent, 10.0)
        finally:
            resumed_at = kill(graph, sim, signal.SIGCONT)
        stall_ms = (max(stalled_at.values()) - paused_at) * 1e3
        detection_s = noticed_at - paused_at
        record_result(
            "joint states stall (sim paused)",
            stall_warn_ms=stall_ms,
            detection_ms=detection_s * 1e3,
            step_failed_ms=(outcome.finished_at - paused_at) * 1e3,
        )
        assert detection_s <= ROBOT.control.state_timeout_s + SLACK_S
        held = graph.settle("wrist_1_joint")
    # Holding: no command during the stall (once what was in flight at the pause has
    # arrived): the controller keeps the last one.
    hold = [c.value for c in commands if c.at <= noticed_at][-1]
    assert [c for c in commands if paused_at + 0.05 < c.at < resumed_at] == []
    # Resumed: the joint ends where it was held, far from the target, and never went on.
    assert max(s.value for s in states if s.at > resumed_at) <= hold + TOLERANCE
    assert held == pytest.approx(hold, abs=TOLERANCE) and held < math.radians(90) - 0.3
    assert outcome.state is ExecutionState.FAILED and outcome.instruction_id == sent.number
    assert "wrist_1" in outcome.reason and "joint state" in outcome.reason, outcome.reason
    outcome = graph.run("wrist_1 to 10 degrees")  # recovered
    assert outcome.ok, outcome.reason
