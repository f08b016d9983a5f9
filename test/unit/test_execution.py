"""Plan execution from agent reports: done only for *our* goal, failures, timeouts."""

from llm_mas_ros.core.agent import AgentState
from llm_mas_ros.core.execution import AgentReport, ExecutionState, PlanExecution
from llm_mas_ros.core.plan import Goal

STEP_1 = (Goal("elbow", "move to 10 deg", 0.17, 1.0), Goal("gripper", "open", 0.04, 2.0))
STEP_2 = (Goal("elbow", "move to 20 deg", 0.35, 1.0),)


def report(name, state, goal="", count=0, at=0.0, error=""):
    return AgentReport(name, AgentState(state), goal, count, error, at)


def idle(at=0.0):
    return {"elbow": report("elbow", "idle", at=at), "gripper": report("gripper", "idle", at=at)}


def start(steps, reports, now=0.0):
    execution = PlanExecution(step_timeout_margin_s=1.0, agent_timeout_s=2.0)
    for step in steps:
        execution.add_step(step)
    execution.end_planning()
    step = execution.update(reports, now)
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
    reports["elbow"] = report("elbow", "moving", "move to 10 deg", 1, 1.0)
    execution.update(reports, 2.0 + 1.0 + 0.01)  # longest goal 2 s + margin 1 s
    assert execution.state is ExecutionState.FAILED and "timed out" in execution.reason


def test_an_agent_without_recent_status_is_treated_as_failed():
    reports = idle(at=-10.0)
    execution = start([STEP_1], reports)
    assert execution.state is ExecutionState.FAILED and "not running" in execution.reason


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
