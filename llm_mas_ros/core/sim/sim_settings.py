"""Settings of the embedded simulator, and where it starts: pure, so the CLI and the launcher read
them without importing MuJoCo (arm.py is the only module that does)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigError
from ..robot.model import RobotModel
from ..robot.schema import NON_NEGATIVE, POSITIVE, Range, dataclass_specs, read_parameters


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
    viewer: bool = False
    record: str = ""
    record_rate_hz: float = 25.0


# What `record` may write: a contact sheet of the motion, or a video (needs imageio-ffmpeg).
RECORD_FORMATS = (".png", ".mp4")

SIM_PARAMETERS = dataclass_specs(
    SimSettings,
    descriptions={
        "physics_rate_hz": "physics steps per simulated second (real time)",
        "publish_rate_hz": "/joint_states messages per second (at most physics_rate_hz)",
        "initial_pose": "named pose (robot.yaml) the simulation starts in ('': all joints at 0)",
        "revolute_kp": "position servo stiffness of revolute joints",
        "revolute_kv": "position servo damping of revolute joints",
        "prismatic_kp": "position servo stiffness of prismatic joints",
        "prismatic_kv": "position servo damping of prismatic joints",
        "armature": "rotor inertia added to every joint (kg*m^2 revolute, kg prismatic)",
        "gravity_compensation": "drives compensate gravity, as industrial arms do",
        "viewer": "open MuJoCo's passive viewer where a display exists (else say so, run on)",
        "record": "file the motion is rendered off-screen to, written at shutdown: .png (a "
        "contact sheet) or .mp4 ('': no recording)",
        "record_rate_hz": "frames per simulated second that `record` renders",
    },
    units={
        "physics_rate_hz": "Hz",
        "publish_rate_hz": "Hz",
        "revolute_kp": "N*m/rad",
        "revolute_kv": "N*m*s/rad",
        "prismatic_kp": "N/m",
        "prismatic_kv": "N*s/m",
        "armature": "kg*m^2 or kg",
        "record_rate_hz": "Hz",
    },
    ranges={
        "physics_rate_hz": Range(100.0),
        "publish_rate_hz": POSITIVE,
        **dict.fromkeys(
            ("revolute_kp", "revolute_kv", "prismatic_kp", "prismatic_kv"), NON_NEGATIVE
        ),
        "armature": NON_NEGATIVE,
        "record_rate_hz": Range(0.0, 60.0, low_open=True),
    },
)


def sim_settings_from_params(params: Mapping[str, object]) -> SimSettings:
    """The simulator settings from its own parameters (sim.yaml's `mujoco_sim` section): typed
    and ranged by SIM_PARAMETERS; an unknown key is refused, naming the key and file."""
    settings = SimSettings(**read_parameters(SIM_PARAMETERS, params))
    if settings.publish_rate_hz > settings.physics_rate_hz:
        raise ConfigError("publish_rate_hz cannot exceed physics_rate_hz")
    if settings.record and not settings.record.lower().endswith(RECORD_FORMATS):
        raise ConfigError(
            f"record must name a {' or '.join(RECORD_FORMATS)} file, got {settings.record!r}"
        )
    return settings


def initial_positions(robot: RobotModel, pose: str) -> dict[str, float]:
    """Where the simulation starts: `pose` for the joints it names, else 0 within limits."""
    named = robot.pose(pose) if pose else {}
    return {
        agent.joint.name: agent.joint.clamp(named.get(agent.joint.name, 0.0))
        for agent in robot.agents
    }
