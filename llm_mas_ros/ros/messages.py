"""Conversions between ROS messages and core types."""

from __future__ import annotations

from collections.abc import Iterable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.time import Time

from ..core.control.agent import AgentStatus
from ..core.planning.status import KeyValues, agent_values


def diagnostic_status(
    name: str, level: int, message: str, values: KeyValues, hardware_id: str = ""
) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=bytes([level]),
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=key, value=value) for key, value in values],
    )


def agent_diagnostic(status: AgentStatus, joint: str) -> DiagnosticStatus:
    return diagnostic_status(
        status.name, int(status.level), status.message, agent_values(status), hardware_id=joint
    )


def diagnostic_array(stamp: Time, statuses: Iterable[DiagnosticStatus]) -> DiagnosticArray:
    array = DiagnosticArray(status=list(statuses))
    array.header.stamp = stamp.to_msg()
    return array


def values_of(status: DiagnosticStatus) -> dict[str, str]:
    return {item.key: item.value for item in status.values}
