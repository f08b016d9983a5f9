"""Plan execution from agent reports: done only for *our* goal, failures, timeouts, holds."""

from llm_mas_ros.core.control.agent import AgentState, AgentStatus, Level, goal_digest
from llm_mas_ros.core.planning.execution import (
    HOLD_GOAL,
    AgentReport,
    ExecutionState,
    PlanExecution,
)
from llm_mas_ros.core.planning.plan import Goal
from llm_mas_ros.core.planning.status import clip_text

STEP_1 = (Goal("elbow", "move to 10 deg", 0.17, 1.0), Goal("gripper", "open", 0.04, 2.0))
STEP_2 = (Goal("elbow", "move to 20 deg", 0.35, 1.0),)


def report(name, state, goal="", count=0, at=0.0, error=""):
    """What the planner hears from an agent that received `count` goals, the last `goal`."""
    status = AgentStatus(
        name=name,
        state=AgentState(state),
        level=Level.OK,
        message=state,
        goal=clip_text(goal),
        goal_count=count,
        goal_digest=goal_digest(goal) if count else "",
        target=None,
        position=0.0,
        progress=0.0,
        error=error,
        goal_received_at=None,
        first_command_at=None,
    )
    return AgentReport(status, at)


def idle(at=0.0):
    return {"elbow": report("elbow", "idle", at=at), "gripper": report("gripper", "idle", at=at)}


def start(steps, reports, now=0.0, held_before=()):
    execution = PlanExecution(step_timeout_margin_s=1.0, agent_timeout_s=2.0)
    execution.held_before(held_before)
    for step in steps:
        execution.add_step(step)
    execution.end_planning()
    step = execution.update(reports, now)
    assert step is steps[0]
    execution.dispatched(step, reports, now)
    return execution


def test_steps_run_in_order_and_finish_when_every_agent_is_done():
    reports = idle()
    execution = start([STEP_1, STEP_2], reports)
    reports["elbow"] = report("elbow", "done", "move to 10 deg", 1, 1.0)
    assert execution.update(reports, 1.0) is None  # gripper not done yet
    reports["gripper"] = report("gripper", "done", "open", 1, 2.0)
    assert execution.update(reports, 2.0) is STEP_2
    execution.dispatched(STEP_2, reports, 2.0)
    reports["elbow"] = report("elbow", "done", "move to 20 deg", 2, 3.0)
    assert execution.update(reports, 3.0) is None
    assert execution.state is ExecutionState.DONE and execution.steps_done == 2


def test_a_done_status_from_before_the_dispatch_does_not_count():
    reports = {
        "elbow": report("elbow", "done", "move to 10 deg", 5),
        "gripper": report("gripper", "done", "open", 3),
    }
    execution = start([STEP_1], reports)
    assert execution.update(reports, 0.1) is None and execution.state is ExecutionState.RUNNING


def test_agent_error_fails_the_plan_with_its_reason():
    reports = idle()
    execution = start([STEP_1, STEP_2], reports)
    reports["elbow"] = report("elbow", "error", "move to 10 deg", 1, 0.5, "joint jammed")
    execution.update(reports, 0.5)
    assert execution.state is ExecutionState.FAILED and "joint jammed" in execution.reason


def test_someone_elses_goal_preempts_the_step():
    reports = idle()
    execution = start([STEP_1], reports)
    reports["elbow"] = report("elbow", "moving", "move to 99 deg", 1, 0.5)
    execution.update(reports, 0.5)
    assert execution.state is ExecutionState.FAILED and "another goal" in execution.reason


def test_a_step_times_out():
    reports = idle()
    execution = start([STEP_1], reports)
    reports["elbow"] = report("elbow", "moving", "move to 10 deg", 1, 3.0)
    reports["gripper"] = report("gripper", "moving", "open", 1, 3.0)
    execution.update(reports, 2.0 + 1.0 + 0.01)  # longest goal 2 s + margin 1 s
    assert execution.state is ExecutionState.TIMED_OUT and "timed out" in execution.reason


def test_an_agent_without_recent_status_fails_the_step_before_anything_is_sent():
    reports = idle()
    reports["gripper"] = report("gripper", "idle", at=-10.0)
    execution = PlanExecution(agent_timeout_s=2.0)
    execution.add_step(STEP_1)
    assert execution.update(reports, 0.0) is None  # nothing to dispatch
    assert (
        execution.state is ExecutionState.FAILED and "gripper is not running" in execution.reason
    )
    assert execution.hold == ()  # nothing moved


def test_an_agent_that_stops_reporting_mid_step_fails_after_agent_timeout_not_the_deadline():
    reports = idle()
    long_step = (Goal("elbow", "move to 90 deg", 1.57, 20.0), Goal("gripper", "open", 0.04, 1.0))
    execution = start([long_step], reports)  # deadline: 20 s + 1 s margin
    reports["elbow"] = report("elbow", "moving", "move to 90 deg", 1, at=0.1)
    reports["gripper"] = report("gripper", "moving", "open", 1, at=0.1)
    execution.update(reports, 2.0)
    assert execution.state is ExecutionState.RUNNING  # 1.9 s of silence: within the timeout
    reports["elbow"] = report("elbow", "moving", "move to 90 deg", 1, at=2.0)  # gripper silent
    execution.update(reports, 2.2)
    assert execution.state is ExecutionState.FAILED
    assert "gripper stopped reporting" in execution.reason
    assert set(execution.hold) == {"elbow", "gripper"}


def test_a_finished_agent_that_goes_quiet_does_not_fail_the_step():
    reports = idle()
    execution = start([STEP_1], reports)
    reports["elbow"] = report("elbow", "done", "move to 10 deg", 1, at=0.5)
    reports["gripper"] = report("gripper", "moving", "open", 1, at=0.5)
    execution.update(reports, 0.5)
    reports["gripper"] = report("gripper", "moving", "open", 1, at=2.9)
    execution.update(reports, 2.9)  # elbow silent 2.4 s, but its part is done
    assert execution.state is ExecutionState.RUNNING


def test_a_failing_step_holds_its_other_agents_but_not_the_failed_one():
    reports = idle()
    execution = start([STEP_1, STEP_2], reports)
    reports["elbow"] = report("elbow", "error", "move to 10 deg", 1, 0.5, "joint jammed")
    reports["gripper"] = report("gripper", "moving", "open", 1, 0.5)
    execution.update(reports, 0.5)
    assert execution.state is ExecutionState.FAILED
    assert execution.hold == ("gripper",)  # elbow keeps its error visible


def test_a_timed_out_step_holds_the_agents_still_moving():
    reports = idle()
    execution = start([STEP_1], reports)
    reports["elbow"] = report("elbow", "done", "move to 10 deg", 1, 1.0)
    reports["gripper"] = report("gripper", "moving", "open", 1, 2.9)
    execution.update(reports, 3.01)
    assert "timed out waiting for gripper" in execution.reason
    assert execution.hold == ("gripper",)


def test_a_preempted_agent_keeps_the_goal_someone_else_gave_it():
    reports = idle()
    execution = start([STEP_1], reports)
    reports["elbow"] = report("elbow", "moving", "move to 99 deg", 1, 0.5)
    execution.update(reports, 0.5)
    assert execution.hold == ("gripper",)  # whose goal may still be on its way: hold it too


def test_a_stopped_plan_holds_the_running_step_and_a_finished_one_holds_nothing():
    reports = idle()
    execution = start([STEP_1, STEP_2], reports)
    reports["elbow"] = report("elbow", "done", "move to 10 deg", 1, 0.5)
    execution.update(reports, 0.5)
    execution.preempt("replaced by instruction 2")
    assert execution.state is ExecutionState.PREEMPTED and execution.hold == ("gripper",)

    finished = start([STEP_2], idle())
    finished.update({"elbow": report("elbow", "done", "move to 20 deg", 1, 1.0)}, 1.0)
    assert finished.state is ExecutionState.DONE and finished.hold == ()
    finished.preempt("too late")
    assert finished.state is ExecutionState.DONE and finished.hold == ()


def test_the_hold_sent_before_a_plan_is_not_taken_for_someone_elses_goal():
    reports = idle()  # the hold has not shown in any status yet
    execution = start([STEP_2], reports, held_before=["elbow"])
    reports["elbow"] = report("elbow", "holding", HOLD_GOAL, 1, 0.01)
    assert execution.update(reports, 0.01) is None
    assert execution.state is ExecutionState.RUNNING
    reports["elbow"] = report("elbow", "done", "move to 20 deg", 2, 1.0)
    execution.update(reports, 1.0)
    assert execution.state is ExecutionState.DONE


def test_every_hold_sent_before_a_plan_is_ours_not_someone_elses_goal():
    """Two predecessors cut short in a row each sent a hold before our goal (a flood): the
    second hold was reported as someone else's goal (0.1% of preempted floods)."""
    reports = idle()
    execution = start([STEP_2], reports, held_before=["elbow"])
    for count in (1, 2):
        reports["elbow"] = report("elbow", "holding", HOLD_GOAL, count, 0.01 * count)
        execution.update(reports, 0.01 * count)
        assert execution.state is ExecutionState.RUNNING, execution.reason
    reports["elbow"] = report("elbow", "done", "move to 20 deg", 3, 1.0)
    execution.update(reports, 1.0)
    assert execution.state is ExecutionState.DONE


def test_a_hold_after_our_goal_is_someone_elses_goal():
    reports = idle()
    execution = start([STEP_2], reports, held_before=["elbow"])
    reports["elbow"] = report("elbow", "moving", "move to 20 deg", 1, 0.1)
    execution.update(reports, 0.1)
    reports["elbow"] = report("elbow", "holding", HOLD_GOAL, 2, 0.2)
    execution.update(reports, 0.2)
    assert execution.state is ExecutionState.FAILED and "another goal" in execution.reason


def test_without_that_hold_a_hold_is_someone_elses_goal():
    reports = idle()
    execution = start([STEP_2], reports)
    reports["elbow"] = report("elbow", "holding", HOLD_GOAL, 1, 0.01)
    execution.update(reports, 0.01)
    assert execution.state is ExecutionState.FAILED and "another goal" in execution.reason


def test_a_plan_cut_at_a_rejected_goal_is_rejected_after_the_steps_before_it():
    reports = idle()
    execution = PlanExecution()
    execution.add_step(STEP_2)
    execution.end_planning("rejected: elbow: outside the limits")
    execution.dispatched(execution.update(reports, 0.0), reports, 0.0)
    reports["elbow"] = report("elbow", "done", "move to 20 deg", 1, 0.5)
    execution.update(reports, 0.5)
    assert execution.state is ExecutionState.REJECTED and execution.steps_done == 1
    assert execution.reason == "rejected: elbow: outside the limits" and execution.hold == ()


def test_a_long_goal_is_told_by_its_id_not_its_clipped_text():
    long_goal = "move to 10 deg" + " " * 250
    step = (Goal("elbow", long_goal, 0.17, 1.0),)
    reports = idle()
    execution = start([step], reports)
    reports["elbow"] = report("elbow", "done", long_goal, 1, 1.0)
    execution.update(reports, 1.0)
    assert execution.state is ExecutionState.DONE
    # Someone else's goal that a status shows with the same clipped text is not ours.
    other = long_goal + " slowly"
    assert clip_text(other)[:200] == clip_text(long_goal)[:200]
    execution = start([step], idle())
    reports["elbow"] = report("elbow", "moving", other, 1, 1.0)
    execution.update(reports, 1.0)
    assert execution.state is ExecutionState.FAILED and "another goal" in execution.reason


def test_streaming_steps_wait_for_planning_to_end():
    reports = idle()
    execution = PlanExecution()
    execution.add_step(STEP_2)
    step = execution.update(reports, 0.0)
    execution.dispatched(step, reports, 0.0)
    reports["elbow"] = report("elbow", "done", "move to 20 deg", 1, 0.5)
    execution.update(reports, 0.5)
    assert execution.state is ExecutionState.RUNNING  # more steps may still come
    execution.end_planning()
    execution.update(reports, 0.6)
    assert execution.state is ExecutionState.DONE
