"""Conversions between ROS messages and core types: diagnostics through the one status codec."""

from __future__ import annotations

from collections.abc import Iterable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.time import Time

from ..core.control.agent import AgentStatus, Level
from ..core.planning.status import (
    PLANNER_NODE,
    KeyValues,
    PlannerStatus,
    SimStatus,
    decode_agent,
    decode_planner,
    decode_sim,
    encode_agent,
    encode_planner,
    encode_sim,
)


def diagnostic_status(
    name: str, level: Level, message: str, values: KeyValues, hardware_id: str = ""
) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=bytes([int(level)]),
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=str(key), value=value) for key, value in values],
    )


def diagnostic_array(stamp: Time, statuses: Iterable[DiagnosticStatus]) -> DiagnosticArray:
    array = DiagnosticArray(status=list(statuses))
    array.header.stamp = stamp.to_msg()
    return array


def agent_diagnostic(status: AgentStatus, joint: str) -> DiagnosticStatus:
    return diagnostic_status(
        status.name, status.level, status.message, encode_agent(status), hardware_id=joint
    )


def planner_diagnostic(stamp: Time, status: PlannerStatus) -> DiagnosticArray:
    values = encode_planner(status)
    return diagnostic_array(
        stamp, [diagnostic_status(PLANNER_NODE, status.level, status.message, values)]
    )


def sim_diagnostic(name: str, stamp: Time, status: SimStatus) -> DiagnosticArray:
    values = encode_sim(status)
    return diagnostic_array(stamp, [diagnostic_status(name, status.level, status.message, values)])


def sim_status(array: DiagnosticArray, name: str) -> SimStatus | None:
    """The status of simulator node `name` in an array, if there is one."""
    for s in array.status:
        if s.name == name:
            return decode_sim(s.level[0], s.message, values_of(s))
    return None


def values_of(status: DiagnosticStatus) -> dict[str, str]:
    return {item.key: item.value for item in status.values}


def agent_statuses(array: DiagnosticArray) -> list[AgentStatus]:
    """The agents' statuses in an array (any other status is skipped)."""
    decoded = (
        decode_agent(s.name, s.level[0], s.message, values_of(s))
        for s in array.status
        if s.name != PLANNER_NODE
    )
    return [status for status in decoded if status is not None]


def planner_status(array: DiagnosticArray) -> PlannerStatus | None:
    """The planner's status in an array, if there is one."""
    for s in array.status:
        if s.name == PLANNER_NODE:
            return decode_planner(s.level[0], s.message, values_of(s))
    return None
