"""Settings of the embedded simulator, and where it starts: pure, so the CLI and the launcher read
them without importing MuJoCo (arm.py is the only module that does)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigError
from ..robot import param_files as P
from ..robot.model import RobotModel


@dataclass(frozen=True)
class SimSettings:
    """Physics settings: rates (Hz), servo gains (N*m/rad and N*m*s/rad for revolute joints,
    N/m and N*s/m for prismatic ones), rotor armature (kg*m^2 or kg)."""

    physics_rate_hz: float = 500.0
    publish_rate_hz: float = 250.0
    initial_pose: str = "home"
    revolute_kp: float = 2000.0
    revolute_kv: float = 120.0
    prismatic_kp: float = 2000.0
    prismatic_kv: float = 60.0
    armature: float = 0.1
    gravity_compensation: bool = True


def sim_settings_from_params(params: Mapping[str, object]) -> SimSettings:
    settings = P.typed(SimSettings, params)
    if settings.physics_rate_hz < 100 or settings.publish_rate_hz <= 0:
        raise ConfigError("physics_rate_hz must be >= 100 and publish_rate_hz > 0")
    if settings.publish_rate_hz > settings.physics_rate_hz:
        raise ConfigError("publish_rate_hz cannot exceed physics_rate_hz")
    return settings


def initial_positions(robot: RobotModel, pose: str) -> dict[str, float]:
    """Where the simulation starts: `pose` for the joints it names, else 0 within limits."""
    named = robot.pose(pose) if pose else {}
    return {
        agent.joint.name: agent.joint.clamp(named.get(agent.joint.name, 0.0))
        for agent in robot.agents
    }
