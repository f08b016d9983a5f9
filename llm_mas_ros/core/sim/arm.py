"""The embedded simulator: MuJoCo physics of the robot, from the same URDF as everything else.

Each commanded joint gets a MuJoCo position actuator (what a ros2_control position interface
with a stiff servo behaves like), limited to the URDF effort; bodies carry gravity compensation
like an industrial arm's drives; joints get rotor armature, and the implicit integrator keeps
the stiff servos stable at the physics rate. Gymnasium-style: `reset()` then `step()`.
Units: rad, m, s, N*m, N.

To be seen: `OffscreenCamera` renders it without a window (MuJoCo's Renderer, on the OpenGL
backend MUJOCO_GL names), `Viewer` opens MuJoCo's passive viewer where a display exists.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..robot.model import JointType, RobotModel
from .sim_settings import SimSettings, initial_positions

DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY")


def display_missing() -> str | None:
    """Why no window can open here (no display named), or None when one may."""
    if any(os.environ.get(name) for name in DISPLAY_VARIABLES):
        return None
    return f"no display ({' and '.join(DISPLAY_VARIABLES)} are unset)"


# MuJoCo picks its OpenGL backend once, when it is imported (MUJOCO_GL). Without a display the
# default (GLFW) cannot render at all: render off-screen through EGL (libEGL, Mesa's software
# renderer on a machine without a GPU) unless the environment chose another (osmesa).
if display_missing():
    os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402  (after MUJOCO_GL is settled)

CAMERA_AZIMUTH_DEG = 135.0
CAMERA_ELEVATION_DEG = -20.0
CAMERA_DISTANCE = 1.8  # times the model's extent: the whole arm in view at any pose


class DisplayError(ConfigError):
    """MuJoCo cannot render here, or cannot open its viewer: the message says what is missing."""


class ArmSimulation:
    """MuJoCo model of `robot` with one position actuator per agent joint."""

    def __init__(self, robot: RobotModel, settings: SimSettings | None = None) -> None:
        self.robot = robot
        self.settings = settings or SimSettings()
        self.joint_names: tuple[str, ...] = robot.joint_names
        self.model = self._compile()
        self.data = mujoco.MjData(self.model)
        self._qpos = np.array([self.model.joint(n).qposadr[0] for n in self.joint_names])
        self._qvel = np.array([self.model.joint(n).dofadr[0] for n in self.joint_names])
        self.reset()

    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def contact_count(self) -> int:
        """Contacts between bodies now (the arm's links touching each other or the world)."""
        return int(self.data.ncon)

    @property
    def positions(self) -> np.ndarray:
        """Joint positions (rad or m), in `joint_names` order (a fresh array)."""
        return np.array(self.data.qpos[self._qpos])

    @property
    def velocities(self) -> np.ndarray:
        return np.array(self.data.qvel[self._qvel])

    @property
    def efforts(self) -> np.ndarray:
        """Actuator forces (N*m or N), in `joint_names` order."""
        return np.array(self.data.actuator_force)

    @property
    def commands(self) -> np.ndarray:
        return np.array(self.data.ctrl)

    def reset(self, positions: Mapping[str, float] | None = None) -> None:
        """Put joints at `positions` (default: the initial pose), at rest, commanded to stay."""
        mujoco.mj_resetData(self.model, self.data)
        start = initial_positions(self.robot, self.settings.initial_pose)
        for name, value in (positions or {}).items():
            if name not in start:
                raise ConfigError(f"cannot reset {name!r}: not a simulated agent joint")
            start[name] = self.robot.joints[name].clamp(value)
        values = np.array([start[name] for name in self.joint_names])
        self.data.qpos[self._qpos] = values
        self._apply_mimics()
        self.data.ctrl[:] = values
        mujoco.mj_forward(self.model, self.data)

    def set_command(self, index: int, position: float) -> bool:
        """Command joint `index` to `position` (rad or m), clipped to its URDF limits.
        Returns False (and changes nothing) for a non-finite position."""
        if not math.isfinite(position):
            return False
        low, high = self.model.actuator_ctrlrange[index]
        self.data.ctrl[index] = min(max(position, low), high)
        return True

    def step(self, count: int = 1) -> None:
        """Advance the physics by `count` timesteps."""
        mujoco.mj_step(self.model, self.data, nstep=count)

    def advance_to(self, sim_time: float) -> int:
        """Step until the simulation clock reaches `sim_time` (s); returns the steps taken."""
        steps = math.floor((sim_time - float(self.data.time)) / self.timestep + 1e-9)
        if steps > 0:
            self.step(steps)
        return max(steps, 0)

    # -- model building ---------------------------------------------------------------------------
    def _compile(self) -> mujoco.MjModel:
        settings = self.settings
        try:
            spec = mujoco.MjSpec.from_string(self.robot.urdf_xml)
        except ValueError as error:
            raise ConfigError(f"MuJoCo cannot load the URDF: {error}") from error
        spec.option.timestep = 1.0 / settings.physics_rate_hz
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        spec.compiler.fusestatic = False
        for body in spec.bodies:
            body.gravcomp = 1.0 if settings.gravity_compensation else 0.0
        for joint in spec.joints:
            joint.armature = settings.armature
        for agent in self.robot.agents:
            self._add_servo(spec, agent.joint.name)
        return spec.compile()

    def _add_servo(self, spec: mujoco.MjSpec, joint_name: str) -> None:
        joint = self.robot.joints[joint_name]
        prismatic = joint.kind is JointType.PRISMATIC
        kp = self.settings.prismatic_kp if prismatic else self.settings.revolute_kp
        kv = self.settings.prismatic_kv if prismatic else self.settings.revolute_kv
        actuator = spec.add_actuator(
            name=f"{joint_name}_servo", target=joint_name, trntype=mujoco.mjtTrn.mjTRN_JOINT
        )
        actuator.set_to_position(kp=kp, kv=kv)
        if math.isfinite(joint.lower):
            actuator.ctrlrange = [joint.lower, joint.upper]
            actuator.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        if math.isfinite(joint.effort):
            actuator.forcerange = [-joint.effort, joint.effort]
            actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE

    def _apply_mimics(self) -> None:
        """Place mimic joints (e.g. the second finger) where their leader puts them."""
        for name, joint in self.robot.joints.items():
            if joint.mimic and joint.mimic in self.joint_names:
                leader = self.model.joint(joint.mimic).qposadr[0]
                self.data.qpos[self.model.joint(name).qposadr[0]] = self.data.qpos[leader]


class OffscreenCamera:
    """Renders `sim` as it is now, without a window, from a camera that frames the whole arm.
    Frames are (height, width, 3) uint8 RGB. Costs ~20 ms a 512x384 frame on a CPU (Mesa)."""

    def __init__(self, sim: ArmSimulation, width: int, height: int) -> None:
        backend = os.environ.get("MUJOCO_GL", "glfw")
        try:
            self._renderer = mujoco.Renderer(sim.model, height, width)
        except Exception as error:  # each backend fails its own way (RuntimeError, FatalError..)
            raise DisplayError(
                f"MuJoCo cannot render off-screen with MUJOCO_GL={backend}: {error} (install "
                "libegl1 for MUJOCO_GL=egl, or libosmesa6 and set MUJOCO_GL=osmesa)"
            ) from error
        self._data = sim.data
        self._camera = mujoco.MjvCamera()
        self._camera.lookat[:] = sim.model.stat.center
        self._camera.distance = CAMERA_DISTANCE * sim.model.stat.extent
        self._camera.azimuth = CAMERA_AZIMUTH_DEG
        self._camera.elevation = CAMERA_ELEVATION_DEG

    def render(self) -> np.ndarray:
        self._renderer.update_scene(self._data, self._camera)
        return np.asarray(self._renderer.render())

    def close(self) -> None:
        self._renderer.close()


class Viewer:
    """MuJoCo's passive viewer on `sim`: a window showing it as it runs, refreshed by `sync()`
    (the simulation steps in the caller's thread; the window draws in its own)."""

    def __init__(self, sim: ArmSimulation) -> None:
        reason = display_missing() or _window_failure()
        if reason:
            raise DisplayError(reason)
        import mujoco.viewer

        self._handle: Any = mujoco.viewer.launch_passive(
            sim.model, sim.data, show_left_ui=False, show_right_ui=False
        )

    @property
    def running(self) -> bool:
        """False once a person has closed the window."""
        return bool(self._handle.is_running())

    def sync(self) -> None:
        self._handle.sync()

    def close(self) -> None:
        self._handle.close()


def _window_failure() -> str | None:
    """Why GLFW cannot open a window on the named display, or None. Checked here, in the
    caller's thread: the viewer's own thread would end the whole process on that failure."""
    try:
        import glfw  # MuJoCo's viewer needs it (a dependency of the mujoco wheel)
    except ImportError as error:
        return f"MuJoCo's viewer needs glfw: {error}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if glfw.init():
            return None
    detail = f": {caught[-1].message}" if caught else ""
    return f"cannot open a window on the display{detail}"
