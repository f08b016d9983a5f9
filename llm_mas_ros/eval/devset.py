"""The planner dev set: its schema, and validation of each line against it and the robot.

Dev set schema (benchmarks/planner_devset.jsonl, one JSON object per line, no other keys):
  id           str, unique
  instruction  str, what a person says
  tags         [str, ...], what the item exercises; accuracy is reported per tag, and for the
               categories of CATEGORIES also in a table of their own
  expect       "plan"   a plan runs to the end
               "reject" the shield rejects a goal (steps before it may run)
               "none"   no plan: the planner finds nothing this robot should do (a refusal)
               "stop"   the stop fast path (hold every agent now)
               "answer" a question answered: no steps, nothing moves, the plan's `answer` text
  steps        [{AGENT: GOAL, ...}, ...], the steps that run, in order: exactly these agents in
               each step. For "reject", the steps that pass before the rejected one; [] for
               "none", "stop" and "answer". GOAL is the goal's resolved final target:
                 number  rad (revolute agents) or m (the gripper), absolute (a relative move's
                         target is the start plus its signed offset)
                 null    no target ('hold')
                 {"target": number | null, "skill"?: str, "repetitions"?: int,
                  "duration_s"?: number, "style"?: "slowly" | "gently" | "quickly"}
                         also checks the dispatched goal's skill (a core.language.Skill value,
                         e.g. "wave", or "hold" for a wait step), wave count, duration (s,
                         within 0.05 s, after the shield has stretched it to the velocity
                         limit) or style word
  rejected     [{"agent": AGENT, "limit": "position"}, ...]: only and always for "reject":
               the agents whose goals the shield rejects, and which URDF limit they break
  answer_mentions
               [str, ...], optional, only for "answer": substrings the answer must contain
               (case-insensitive), e.g. ["elbow"] or ["home", "ready", "stow"]
  start        optional, where the robot is when the instruction arrives: a named pose
               ("ready"; the gripper closed) or {AGENT: number, ...} (rad or m, inside the
               URDF limits; every other agent at 0). Default: home, gripper closed (all 0.0)
  note         str, optional: why the expectation is what it is
Targets are computed by hand from the conventions at the top of config/planner_examples.yaml.
A bad line is a ConfigError naming the file, line and item, so a dev-set edit fails loudly
instead of silently scoring against a wrong expectation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.language.agent_language import STYLE_WORDS, Skill
from llm_mas_ros.core.robot.model import RobotModel

OUTCOMES = ("plan", "reject", "none", "stop", "answer")
LIMITS = ("position",)
ITEM_KEYS = {
    "id",
    "instruction",
    "tags",
    "expect",
    "steps",
    "rejected",
    "answer_mentions",
    "start",
    "note",
}
# The categories of issue 10 (what people mean), each a tag: their accuracy gets a table of its
# own in the benchmark report, listed even when a set has no item of one.
CATEGORIES = (
    "relative",
    "vague",
    "expression",
    "refusal",
    "question",
    "wait-back",
    "clause-numbers",
    "duration",
)
GOAL_KEYS = {"target", "skill", "repetitions", "duration_s", "style"}
SKILLS = {skill.value for skill in Skill}
STYLES = set(STYLE_WORDS.values())


@dataclass(frozen=True)
class GoalSpec:
    """What one agent's dispatched goal must be: its target (rad or m; None for 'hold') and,
    when given, its skill, wave count, duration (s) and style."""

    target: float | None
    skill: str | None = None
    repetitions: int | None = None
    duration_s: float | None = None
    style: str | None = None


@dataclass(frozen=True)
class DevItem:
    """One dev-set line (see the module docstring); `rejected` holds the agents only, `start`
    the agents that start away from 0 (resolved from a named pose)."""

    id: str
    instruction: str
    tags: tuple[str, ...]
    expect: str
    steps: tuple[Mapping[str, GoalSpec], ...]
    rejected: tuple[str, ...] = ()
    note: str = ""
    answer_mentions: tuple[str, ...] = ()
    start: Mapping[str, float] = field(default_factory=dict)  # agents not at 0 at the start


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{where}: {message}")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _goal_spec(value: object, where: str) -> GoalSpec:
    if value is None or _number(value):
        return GoalSpec(None if value is None else float(value))  # type: ignore[arg-type]
    _require(
        isinstance(value, dict), where, f"a goal is a number, null or an object, not {value!r}"
    )
    assert isinstance(value, dict)
    _require(
        set(value) <= GOAL_KEYS and "target" in value,
        where,
        f"a goal object has 'target' and optionally {sorted(GOAL_KEYS - {'target'})}",
    )
    target = value["target"]
    _require(target is None or _number(target), where, "target must be a number or null")
    _require(
        value.get("skill") is None or value["skill"] in SKILLS,
        where,
        f"skill must be one of {sorted(SKILLS)}",
    )
    _require(
        value.get("style") is None or value["style"] in STYLES,
        where,
        f"style must be one of {sorted(STYLES)}",
    )
    repetitions = value.get("repetitions")
    _require(
        repetitions is None or (isinstance(repetitions, int) and repetitions > 0),
        where,
        "repetitions must be a positive integer",
    )
    duration = value.get("duration_s")
    _require(
        duration is None or (_number(duration) and duration > 0),
        where,
        "duration_s must be a positive number",
    )
    return GoalSpec(
        None if target is None else float(target),
        value.get("skill"),
        repetitions,
        None if duration is None else float(duration),
        value.get("style"),
    )


def _steps(value: object, robot: RobotModel, where: str) -> tuple[Mapping[str, GoalSpec], ...]:
    _require(isinstance(value, list), where, "steps must be a list")
    assert isinstance(value, list)
    steps = []
    for number, step in enumerate(value, 1):
        at = f"{where} step {number}"
        _require(isinstance(step, dict) and bool(step), at, "a step is a non-empty object")
        for agent in step:
            _require(robot.has_agent(agent), at, f"unknown agent {agent!r}")
        steps.append({agent: _goal_spec(goal, f"{at} {agent}") for agent, goal in step.items()})
    return tuple(steps)


def _rejected(value: object, robot: RobotModel, where: str) -> tuple[str, ...]:
    _require(isinstance(value, list) and bool(value), where, "rejected must be a non-empty list")
    assert isinstance(value, list)
    agents = []
    for entry in value:
        _require(
            isinstance(entry, dict) and set(entry) == {"agent", "limit"},
            where,
            "a rejection is {'agent': ..., 'limit': ...}",
        )
        _require(robot.has_agent(entry["agent"]), where, f"unknown agent {entry['agent']!r}")
        _require(entry["limit"] in LIMITS, where, f"limit must be one of {LIMITS}")
        agents.append(entry["agent"])
    return tuple(agents)


def _mentions(value: object, answer: bool, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    _require(answer, where, "'answer_mentions' is only for expect 'answer'")
    _require(
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, str) and bool(m.strip()) for m in value),
        where,
        "answer_mentions must be a non-empty list of non-empty strings",
    )
    assert isinstance(value, list)
    return tuple(value)


def _start(value: object, robot: RobotModel, where: str) -> dict[str, float]:
    """The agents away from 0 at the start: a named pose's joints, or the given agents."""
    if value is None:
        return {}
    if isinstance(value, str):
        _require(value in robot.poses, where, f"start pose must be one of {sorted(robot.poses)}")
        by_joint = {agent.joint.name: agent.name for agent in robot.agents}
        return {by_joint[joint]: float(v) for joint, v in robot.poses[value].items()}
    _require(
        isinstance(value, dict) and bool(value),
        where,
        "start is a pose name or a non-empty {agent: number} object",
    )
    assert isinstance(value, dict)
    start = {}
    for agent, position in value.items():
        _require(robot.has_agent(agent), where, f"start: unknown agent {agent!r}")
        _require(_number(position), where, f"start: {agent} must be a number")
        joint = robot.agent(agent).joint
        _require(
            joint.contains(float(position)),
            where,
            f"start: {agent} {position} is outside {joint.describe_limits()}",
        )
        start[agent] = float(position)
    return start


def parse_item(data: object, robot: RobotModel, where: str = "dev item") -> DevItem:
    """One dev-set line, validated against the schema and the robot; ConfigError if not."""
    _require(isinstance(data, dict), where, "each line is a JSON object")
    assert isinstance(data, dict)
    _require(set(data) <= ITEM_KEYS, where, f"unknown keys {sorted(set(data) - ITEM_KEYS)}")
    for key in ("id", "instruction"):
        _require(
            isinstance(data.get(key), str) and bool(data[key].strip()),
            where,
            f"{key!r} must be a non-empty string",
        )
    where = f"{where} ({data['id']})"
    tags = data.get("tags")
    _require(
        isinstance(tags, list) and bool(tags) and all(isinstance(t, str) for t in tags),
        where,
        "tags must be a non-empty list of strings",
    )
    assert isinstance(tags, list)
    expect = data.get("expect")
    _require(expect in OUTCOMES, where, f"expect must be one of {OUTCOMES}")
    steps = _steps(data.get("steps"), robot, where)
    _require(
        bool(steps) == (expect == "plan") or expect == "reject",
        where,
        "a 'plan' has steps; 'none', 'stop' and 'answer' have none",
    )
    _require(
        ("rejected" in data) == (expect == "reject"),
        where,
        "'rejected' is given exactly when expect is 'reject'",
    )
    rejected = _rejected(data["rejected"], robot, where) if expect == "reject" else ()
    mentions = _mentions(data.get("answer_mentions"), expect == "answer", where)
    start = _start(data.get("start"), robot, where)
    note = data.get("note", "")
    _require(isinstance(note, str), where, "note must be a string")
    return DevItem(
        data["id"],
        data["instruction"],
        tuple(tags),
        str(expect),
        steps,
        rejected,
        note,
        mentions,
        start,
    )


def load_devset(path: str | Path, robot: RobotModel) -> list[DevItem]:
    """Every item of a dev-set JSONL file; ConfigError names the line of the first bad one."""
    items = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{where}: not JSON ({error})") from error
        items.append(parse_item(data, robot, where))
    ids = [item.id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{path}: duplicate ids {duplicates}")
    return items
