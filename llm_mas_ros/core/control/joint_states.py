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
    """(row, position, velocity) of each agent joint a JointState carries a finite value for.

    A joint the message names without a finite position (NaN, inf, or fewer positions than
    names) is dropped and counted per row, with why: the agents say so on /diagnostics. A
    message that does not name a joint says nothing about it (another publisher may)."""

    def __init__(self, joints: Sequence[str]) -> None:
        self.joints = list(joints)
        self._names: tuple[str, ...] = ()
        self._rows: list[int] = []
        self.dropped = [0] * len(self.joints)  # per row: entries dropped so far
        self.drop_reason = [""] * len(self.joints)  # per row: why the latest one was

    def read(
        self, names: Sequence[str], positions: Sequence[float], velocities: Sequence[float]
    ) -> Iterator[tuple[int, float, float]]:
        """Rows in the order of `joints`; positions rad or m, velocities rad/s or m/s (0 when
        the message has none)."""
        for row, index in enumerate(self._order(names)):
            if index < 0:
                continue  # not in this message
            if index < len(positions) and math.isfinite(positions[index]):
                velocity = velocities[index] if index < len(velocities) else 0.0
                yield row, positions[index], velocity
            else:
                self._drop(row, positions[index] if index < len(positions) else None)

    def _drop(self, row: int, position: float | None) -> None:
        self.dropped[row] += 1
        said = "no position" if position is None else f"position {position}"
        self.drop_reason[row] = f"joint state dropped: {self.joints[row]} has {said}"

    def _order(self, names: Sequence[str]) -> list[int]:
        key = tuple(names)
        if key != self._names:
            self._names, self._rows = key, joint_order(key, self.joints)
        return self._rows
