"""The planner decodes below the control loops: its worker thread runs SCHED_BATCH and
robot.yaml's decode_nice steps nicer than the rest of the process (read back from the kernel)."""

import os
import threading

import pytest
from rclpy.parameter import Parameter

from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.nodes.planner_node import PlannerNode

ROBOT = load_robot()


def new_planner_thread(harness, known: set[int], **parameters) -> int:
    """Start a planner node (rules backend); the native id of its worker thread."""
    overrides = [Parameter(k, value=v) for k, v in {"backend": "rules", **parameters}.items()]
    harness.add(PlannerNode(parameter_overrides=overrides))
    (thread,) = [
        t for t in threading.enumerate() if t.name == "planner" and t.native_id not in known
    ]
    return thread.native_id


def planner_threads() -> set[int]:
    return {t.native_id for t in threading.enumerate() if t.name == "planner"}


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling only")
def test_the_decoding_thread_runs_nicer_than_the_control_loops(harness):
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    wanted = min(19, base + ROBOT.control.decode_nice)
    assert ROBOT.control.decode_nice > 0 and wanted > base  # or this proves nothing
    thread = new_planner_thread(harness, planner_threads())
    assert harness.until(lambda: os.getpriority(os.PRIO_PROCESS, thread) == wanted, 10.0)
    assert os.sched_getscheduler(thread) == os.SCHED_BATCH
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # only it
