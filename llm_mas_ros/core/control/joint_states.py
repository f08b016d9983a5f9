"""Reading a JointState for the agents of one process: ONE subscription fanned out in Python.

A JointState names its joints in any order and may carry more (or fewer) joints than this
process drives; positions may be NaN, velocities may be missing. The mapping from the message's
order to the agents' rows is cached: a publisher rarely changes its joint names.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from ..robot.model import joint_order


class JointStateReader:
    """(row, position, velocity) of each agent joint a JointState carries a finite value for."""

    def __init__(self, joints: Sequence[str]) -> None:
        self.joints = list(joints)
        self._names: tuple[str, ...] = ()
        self._rows: list[int] = []

    def read(
        self, names: Sequence[str], positions: Sequence[float], velocities: Sequence[float]
    ) -> Iterator[tuple[int, float, float]]:
        """Rows in the order of `joints`; positions rad or m, velocities rad/s or m/s (0 when
        the message has none)."""
        for row, index in enumerate(self._order(names)):
            if 0 <= index < len(positions) and math.isfinite(positions[index]):
                velocity = velocities[index] if index < len(velocities) else 0.0
                yield row, positions[index], velocity

    def _order(self, names: Sequence[str]) -> list[int]:
        key = tuple(names)
        if key != self._names:
            self._names, self._rows = key, joint_order(key, self.joints)
        return self._rows
