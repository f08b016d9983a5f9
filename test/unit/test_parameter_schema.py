"""The parameter schema: one spec per parameter types, ranges and describes it, and the pip-only
loader refuses what a node would refuse, naming the key and the file."""

import textwrap

import pytest

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.planning.planner_settings import (
    PLANNER_PARAMETERS,
    Dtype,
    PlannerBackend,
    PlannerSettings,
    ShieldMode,
    planner_settings_from_params,
)
from llm_mas_ros.core.robot import param_files as P
from llm_mas_ros.core.robot.model import ROBOT_PARAMETERS, load_robot, robot_schema
from llm_mas_ros.core.robot.schema import (
    ParameterSpec,
    ParamType,
    Range,
    read_parameters,
)
from llm_mas_ros.core.robot.share import share_path
from llm_mas_ros.core.sim.sim_settings import SIM_PARAMETERS, sim_settings_from_params

RATE = ParameterSpec("rate", ParamType.DOUBLE, "loop rate", 10.0, "Hz", Range(0.0, low_open=True))
MODE = ParameterSpec("mode", ParamType.STRING, "mode", "a", choices=("a", "b"))
NAMES = ParameterSpec("names", ParamType.STRING_ARRAY, "names")
NEEDED = ParameterSpec("needed", ParamType.INTEGER, "needed", required=True)


def _file(tmp_path, text, name="p.yaml"):
    file = tmp_path / name
    file.write_text(textwrap.dedent(text))
    return file


def test_a_spec_describes_meaning_unit_and_constraints():
    assert RATE.text() == "loop rate [Hz]; range (0, inf]"
    assert MODE.text() == "mode; one of: a | b"
    assert NAMES.text() == "names; optional" and NEEDED.text() == "needed; required"


def test_types_follow_defaults():
    assert [ParamType.of(v) for v in (True, 1, 1.0, "x", ["x"])] == list(ParamType)


def test_values_are_checked_converted_and_defaulted():
    values = read_parameters([RATE, MODE, NAMES, NEEDED], {"rate": 5, "needed": 3})
    assert values == {"rate": 5.0, "mode": "a", "needed": 3}
    assert isinstance(values["rate"], float) and "names" not in values  # optional, absent
    assert read_parameters([NAMES, NEEDED], {"names": ["x"], "needed": 1})["names"] == ("x",)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"needed": 1, "rate": 0.0}, r"'rate' must be in \(0, inf\], got 0.0"),
        ({"needed": 1, "rate": float("nan")}, "must be a number"),
        ({"needed": 1, "rate": "fast"}, "'rate' must be float"),
        ({"needed": 1, "mode": "c"}, "'mode' must be one of a, b"),
        ({"needed": True}, "'needed' must be int"),
        ({"needed": 1, "names": ["x", 2]}, "must be a list of strings"),
        ({}, "missing parameter 'needed': needed; required"),
        ({"needed": 1, "rte": 5.0}, "unknown parameter 'rte'.*known at the top level: mode"),
    ],
)
def test_bad_values_are_refused_with_the_reason(params, message):
    with pytest.raises(ConfigError, match=message):
        read_parameters([RATE, MODE, NAMES, NEEDED], params)


def test_errors_name_the_file(tmp_path):
    file = _file(tmp_path, "/**:\n  ros__parameters:\n    rate: -1.0\n    needed: 1\n")
    with pytest.raises(ConfigError, match=f"'rate' \\(in {file}\\) must be in"):
        read_parameters([RATE, NEEDED], P.load_parameters([file]))


def test_ros_own_parameters_are_not_unknown():
    values = read_parameters([NEEDED], {"needed": 1, "use_sim_time": True, "qos_overrides.x": 1})
    assert values == {"needed": 1}


def test_an_unknown_robot_key_names_key_and_file(tmp_path):
    text = share_path("config", "robot.yaml").read_text()
    file = _file(tmp_path, text.replace("state_timeout_s:", "state_timout_s:"), "robot.yaml")
    with pytest.raises(ConfigError, match=f"unknown parameter 'state_timout_s' \\(in {file}\\)"):
        load_robot([file])


def test_an_agent_not_in_agent_names_is_an_unknown_key(tmp_path):
    text = share_path("config", "robot.yaml").read_text()
    text = text.replace("wrist_3, gripper]", "wrist_3]")
    with pytest.raises(ConfigError, match=r"unknown parameter 'agents\.gripper\.joint'"):
        load_robot([_file(tmp_path, text, "robot.yaml")])


def test_every_parameter_is_described_with_its_unit(arm):
    params = P.load_parameters([share_path("config", "robot.yaml")])
    specs = [*robot_schema(params, arm.joints), *PLANNER_PARAMETERS, *SIM_PARAMETERS]
    assert all(spec.description for spec in specs)
    timed = [spec for spec in specs if spec.name.endswith(("_s", "_hz"))]
    assert timed and all(spec.unit in ("s", "Hz") for spec in timed)
    poses = [spec for spec in specs if spec.name.startswith("poses.")]
    assert {spec.unit for spec in poses} == {"rad"}  # the reference poses leave the gripper
    assert [spec.name for spec in ROBOT_PARAMETERS][:2] == ["robot_description", "agent_names"]


def test_planner_settings_use_enums_and_accept_the_robot_keys_beside_them():
    files = [share_path("config", "robot.yaml"), share_path("config", "planner.yaml")]
    settings = planner_settings_from_params(P.load_parameters(files, "planner"))
    assert settings.backend is PlannerBackend.SMOLLM2 and settings.backend == "smollm2"
    assert settings.dtype is Dtype.AUTO and settings.shield_mode is ShieldMode.REJECT
    assert PlannerSettings(backend="rules").backend is PlannerBackend.RULES
    with pytest.raises(ConfigError, match="unknown parameter 'backends'"):
        planner_settings_from_params({"backends": "rules"})
    with pytest.raises(ConfigError, match="'dtype' must be one of auto, float32"):
        planner_settings_from_params({"dtype": "int4"})
    with pytest.raises(ConfigError, match="needs model_path"):
        planner_settings_from_params({"backend": "local"})


def test_sim_settings_refuse_an_unknown_key_naming_the_file(tmp_path):
    file = _file(tmp_path, "mujoco_sim:\n  ros__parameters:\n    physics_hz: 400.0\n")
    with pytest.raises(ConfigError, match=f"unknown parameter 'physics_hz' \\(in {file}\\)"):
        sim_settings_from_params(P.load_parameters([file], "mujoco_sim"))
    with pytest.raises(ConfigError, match="cannot exceed"):
        sim_settings_from_params({"physics_rate_hz": 100.0, "publish_rate_hz": 200.0})
    assert sim_settings_from_params({"physics_rate_hz": 400}).physics_rate_hz == 400.0
