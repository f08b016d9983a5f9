"""The planner's decisions without ROS: events in, effects out."""

import pytest
from agent_statuses import ELBOW_30, OPEN, status

from llm_mas_ros.core.control.agent import Level
from llm_mas_ros.core.planning import dispatcher as D
from llm_mas_ros.core.planning.execution import HOLD_GOAL, ExecutionState
from llm_mas_ros.core.planning.pipeline import STOP_PLANNER
from llm_mas_ros.core.planning.plan import Goal, Plan, Rejection


@pytest.fixture()
def dispatcher(arm):
    d = D.Dispatcher(arm, "rules", step_timeout_margin_s=1.0, agent_timeout_s=2.0)
    d.agent_statuses([status(agent) for agent in arm.agent_names], 0.0)
    return d


def of(kind, effects):
    return [effect for effect in effects if isinstance(effect, kind)]


def goals(effects):
    return [(e.agent, e.goal) for e in of(D.SendGoal, effects)]


def test_ready_once_every_agent_reported_a_position(arm):
    d = D.Dispatcher(arm, "rules")
    assert not d.report(0.0).status.ready
    d.agent_statuses([status(a) for a in arm.agent_names if a != "elbow"], 0.0)
    assert d.report(0.0).status.readiness == "waiting for agents: elbow"
    d.agent_statuses([status("elbow")], 0.0)
    report = d.report(0.1).status
    assert report.ready and report.level is Level.OK and report.state is None
    assert not d.report(3.0).status.ready  # silent for longer than agent_timeout_s


def test_not_ready_while_an_agent_commands_no_controller(arm):
    d = D.Dispatcher(arm, "rules")
    d.agent_statuses([status(a, ready=a != "elbow") for a in arm.agent_names], 0.0)
    report = d.report(0.1).status
    assert not report.ready
    assert report.readiness == (
        "waiting for agents: elbow (no subscriber on /elbow_position_controller/commands)"
    )


def test_an_instruction_is_planned_then_runs_step_by_step(dispatcher):
    effects = dispatcher.instruction("elbow to 30 deg then open the gripper", 1.0)
    assert of(D.StartPlanning, effects) == [D.StartPlanning(1, effects[0].text)]
    assert of(D.Report, effects)[-1].status.state is ExecutionState.RUNNING
    assert goals(dispatcher.planned(1, ELBOW_30, 1.1)) == [("elbow", "move to 30 deg")]
    assert goals(dispatcher.planned(1, OPEN, 1.2)) == []  # waits for step 1
    plan = Plan("elbow to 30 deg then open the gripper", "rules", (ELBOW_30, OPEN))
    effects = dispatcher.finished_planning(1, plan, 1.3)
    assert of(D.AnnouncePlan, effects) == [D.AnnouncePlan(plan)]
    effects = dispatcher.agent_statuses([status("elbow", "done", "move to 30 deg", 1)], 2.0)
    assert goals(effects) == [("gripper", "open")]
    effects = dispatcher.agent_statuses([status("gripper", "done", "open", 1)], 2.5)
    (report,) = of(D.Report, effects)
    assert report.status.state is ExecutionState.DONE and report.status.ok
    assert report.log == "instruction 1: done"
    assert report.status.first_step_at == 1.1 and report.status.finished_at == 2.5


def test_a_stop_holds_every_agent_without_planning(dispatcher, arm):
    effects = dispatcher.instruction("hold still", 1.0)
    assert not of(D.StartPlanning, effects)
    assert goals(effects) == [(agent, HOLD_GOAL) for agent in arm.agent_names]
    (announced,) = of(D.AnnouncePlan, effects)
    assert announced.plan.planner == STOP_PLANNER and announced.plan.stop
    finished = [r.status for r in of(D.Report, effects) if r.status.finished]
    assert finished and all(s.plan == announced.plan for s in finished)  # the first says it
    assert finished[-1].state is ExecutionState.STOPPED


def test_a_new_instruction_holds_what_the_old_left_moving_first(dispatcher):
    dispatcher.instruction("elbow to 30 deg", 1.0)
    dispatcher.planned(1, ELBOW_30, 1.1)
    dispatcher.agent_statuses([status("elbow", "moving", "move to 30 deg", 1)], 1.2)
    effects = dispatcher.instruction("open the gripper", 1.5)
    assert goals(effects) == [("elbow", HOLD_GOAL)]
    assert effects.index(of(D.SendGoal, effects)[0]) < effects.index(
        of(D.StartPlanning, effects)[0]
    )
    assert of(D.StartPlanning, effects)[0].number == 2
    # Results of the replaced instruction's planning change nothing.
    assert dispatcher.planned(1, OPEN, 1.6) == []
    assert dispatcher.finished_planning(1, Plan("x", "rules", (OPEN,)), 1.6) == []
    assert not dispatcher.is_current(1) and dispatcher.is_current(2)


def test_planning_failure_and_emergency_stop_fail_the_instruction(dispatcher):
    dispatcher.instruction("levitate", 1.0)
    effects = dispatcher.planning_failed(1, "no such skill", 1.2)
    (report,) = of(D.Report, effects)
    assert report.status.state is ExecutionState.FAILED and report.status.level is Level.ERROR
    assert report.status.reason == "cannot plan: no such skill"
    dispatcher.agent_statuses([status(a) for a in dispatcher.robot.agent_names], 2.0)
    dispatcher.instruction("elbow to 30 deg", 2.0)
    dispatcher.planned(2, ELBOW_30, 2.1)
    dispatcher.agent_statuses([status("elbow", "moving", "move to 30 deg", 1)], 2.2)
    effects = dispatcher.emergency_stop(True, 2.3)
    assert goals(effects) == []  # the e-stop froze them: no hold to refuse
    assert of(D.Report, effects)[0].status.reason.startswith("emergency stop")
    assert dispatcher.emergency_stop(False, 2.4) == []


def test_plans_start_where_the_agents_say_their_joints_are(dispatcher):
    dispatcher.agent_statuses([status("elbow", position=0.7)], 1.0)
    assert dispatcher.positions()["elbow"] == 0.7


def test_the_tick_notices_a_step_that_timed_out(dispatcher):
    dispatcher.instruction("elbow to 30 deg", 1.0)
    dispatcher.planned(1, ELBOW_30, 1.0)
    dispatcher.finished_planning(1, Plan("elbow to 30 deg", "rules", (ELBOW_30,)), 1.0)
    dispatcher.agent_statuses([status(a, position=0.0) for a in dispatcher.robot.agent_names], 2.9)
    effects = dispatcher.tick(3.1)  # 1.0 s motion + 1.0 s margin, and elbow still idle
    assert "timed out" in of(D.Report, effects)[-1].status.reason


def test_every_instruction_gets_its_own_outcome(dispatcher):
    """Replaced or stopped, an instruction's end is reported about IT (its id), once."""
    dispatcher.instruction("elbow to 30 deg", 1.0)
    assert dispatcher.report(1.0).status.message == "planning"  # nothing dispatched yet
    dispatcher.planned(1, ELBOW_30, 1.1)
    assert dispatcher.report(1.1).status.message == "running step 1"
    effects = dispatcher.instruction("open the gripper", 1.5)
    ended = [r.status for r in of(D.Report, effects) if r.status.instruction_id == 1]
    assert [s.state for s in ended] == [ExecutionState.PREEMPTED]
    assert "replaced by instruction 2 ('open the gripper')" in ended[0].reason
    assert not ended[0].ok and ended[0].level is Level.ERROR
    effects = dispatcher.instruction("stop", 1.6)
    (stopped,) = [r.status for r in of(D.Report, effects) if r.status.instruction_id == 2]
    assert (
        stopped.state is ExecutionState.PREEMPTED and "stopped by instruction 3" in stopped.reason
    )
    stop = of(D.Report, effects)[-1].status
    assert stop.instruction_id == 3 and stop.state is ExecutionState.STOPPED and stop.ok


def test_a_rejected_plan_is_rejected_not_failed(dispatcher):
    dispatcher.instruction("elbow to 400 deg", 1.0)
    plan = Plan("elbow to 400 deg", "rules", rejected=(Rejection("elbow", "to 400", "limits"),))
    effects = dispatcher.finished_planning(1, plan, 1.1)
    (report,) = of(D.Report, effects)
    assert report.status.state is ExecutionState.REJECTED and not report.status.ok
    assert report.status.reason == "rejected: elbow: limits"
    assert report.log == "instruction 1: rejected: elbow: limits"  # not 'rejected: rejected:'
    assert report.status.message == "rejected: elbow: limits"


def moving(dispatcher, number, step, at):
    """Instruction `number` planned as `step`, its agents moving on it."""
    dispatcher.planned(number, step, at)
    statuses = [status(goal.agent, "moving", goal.goal, number) for goal in step]
    return dispatcher.agent_statuses(statuses, at)


@pytest.fixture()
def queueing(arm):
    d = D.Dispatcher(arm, "rules", 1.0, 2.0, arrival=D.Arrival.QUEUE, queue_size=1)
    d.agent_statuses([status(agent) for agent in arm.agent_names], 0.0)
    return d


def test_queue_runs_instructions_one_after_another_and_a_full_queue_rejects(queueing):
    queueing.instruction("elbow to 30 deg", 1.0)
    moving(queueing, 1, ELBOW_30, 1.1)
    effects = queueing.instruction("open the gripper", 1.2)
    assert not of(D.StartPlanning, effects) and not goals(effects)  # nothing replaced
    assert of(D.Report, effects)[-1].status.state is ExecutionState.QUEUED
    effects = queueing.instruction("close the gripper", 1.3)  # the queue holds one
    rejected = next(r.status for r in of(D.Report, effects) if r.status.instruction_id == 3)
    assert rejected.state is ExecutionState.REJECTED and "queue_size 1" in rejected.reason
    queueing.finished_planning(1, Plan("elbow to 30 deg", "rules", (ELBOW_30,)), 1.4)
    effects = queueing.agent_statuses([status("elbow", "done", "move to 30 deg", 1)], 2.0)
    assert of(D.StartPlanning, effects) == [D.StartPlanning(2, "open the gripper")]
    assert queueing.is_current(2) and not queueing.is_current(1)


def test_merge_runs_disjoint_instructions_together_and_replaces_on_overlap(arm):
    d = D.Dispatcher(arm, "rules", 1.0, 2.0, arrival=D.Arrival.MERGE)
    d.agent_statuses([status(agent) for agent in arm.agent_names], 0.0)
    d.instruction("elbow to 30 deg", 1.0)
    moving(d, 1, ELBOW_30, 1.1)
    d.instruction("open the gripper", 1.2)
    effects = d.planned(2, OPEN, 1.3)
    assert goals(effects) == [("gripper", "open")]  # beside the elbow's motion
    assert d.is_current(1) and d.is_current(2)
    d.instruction("elbow to 10 deg", 1.4)
    effects = d.planned(3, (Goal("elbow", "move to 10 deg", 0.17, 1.0),), 1.5)
    assert goals(effects) == [("elbow", HOLD_GOAL), ("elbow", "move to 10 deg")]
    (replaced,) = [r.status for r in of(D.Report, effects) if r.status.instruction_id == 1]
    assert replaced.state is ExecutionState.PREEMPTED
    assert d.is_current(2) and d.is_current(3) and not d.is_current(1)


def test_a_stop_ends_what_runs_and_what_waits(queueing):
    queueing.instruction("elbow to 30 deg", 1.0)
    moving(queueing, 1, ELBOW_30, 1.1)
    queueing.instruction("open the gripper", 1.2)
    effects = queueing.instruction("halt", 1.3)
    ended = {r.status.instruction_id: r.status.state for r in of(D.Report, effects)}
    assert ended[1] is ExecutionState.PREEMPTED and ended[2] is ExecutionState.PREEMPTED
    assert ended[3] is ExecutionState.STOPPED
    assert not queueing.active and not queueing.waiting


def test_a_stops_late_hold_is_not_taken_for_someone_elses_goal(dispatcher):
    """The stop's hold may reach an agent's status after the next plan's goal went out."""
    dispatcher.instruction("stop", 1.0)
    dispatcher.instruction("elbow to 30 deg", 1.1)
    assert goals(dispatcher.planned(2, ELBOW_30, 1.2)) == [("elbow", "move to 30 deg")]
    late_hold = status("elbow", "holding", HOLD_GOAL, 1)
    effects = dispatcher.agent_statuses([late_hold], 1.3)
    assert not [r for r in of(D.Report, effects) if r.status.finished]
    dispatcher.finished_planning(2, Plan("elbow to 30 deg", "rules", (ELBOW_30,)), 1.3)
    effects = dispatcher.agent_statuses([status("elbow", "done", "move to 30 deg", 2)], 2.0)
    assert of(D.Report, effects)[-1].status.state is ExecutionState.DONE
