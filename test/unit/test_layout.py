"""The layout shows the architecture: imports run inward only, and no module name is used twice."""

import ast
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "llm_mas_ros"

# Which parts of the package each part may import (besides itself). Inward only: the robot
# model knows nothing of language, the agent's control nothing of planning, the core nothing
# of ROS, and nothing in the package imports a node.
ALLOWED = {
    "core.errors": set(),
    "core.robot": {"core.errors"},
    "core.language": {"core.errors", "core.robot"},
    "core.control": {"core.errors", "core.robot", "core.language"},
    "core.sim": {"core.errors", "core.robot", "core.language", "core.control"},
    "core.planning": {"core.errors", "core.robot", "core.language", "core.control"},
    "eval": {"core"},
    "training": {"core", "launcher"},
    "launcher": {"core"},
    "ros": {"core", "launcher"},
    "nodes": {"core", "ros", "launcher"},
    "latency_bench": {"core", "ros", "launcher", "eval"},
    "cli": {"core", "ros", "launcher", "training", "latency_bench"},
}


def part_of(module: str) -> str:
    """The ALLOWED key a dotted module (below llm_mas_ros) belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "core" and len(parts) > 1 else parts[0]


def imports_of(path: Path) -> set[str]:
    """Modules below llm_mas_ros that `path` imports, dotted without the package prefix."""
    # The package a relative import starts from: for a.b.c and for a.b.__init__ alike, a.b.
    package = path.relative_to(PACKAGE).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [[*target, alias.name] for alias in node.names]
                found.update(".".join(t) for t in [target, *names] if t)
            elif node.module and node.module.startswith("llm_mas_ros."):
                found.add(node.module.removeprefix("llm_mas_ros."))
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("llm_mas_ros.")
                for a in node.names
                if a.name.startswith("llm_mas_ros.")
            )
    return {
        name
        for name in found
        if (PACKAGE / name.replace(".", "/")).with_suffix(".py").exists()
        or (PACKAGE / name.replace(".", "/")).is_dir()
    }


def allowed(source: str, target: str) -> bool:
    mine, theirs = part_of(source), part_of(target)
    if mine == theirs or (theirs == "core" and mine == "core"):
        return True
    return any(theirs == a or theirs.startswith(a + ".") for a in ALLOWED[mine])


def test_imports_run_inward_only():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if source in ("__init__",) or part_of(source) not in ALLOWED:
            continue
        wrong += [f"{source} -> {t}" for t in sorted(imports_of(path)) if not allowed(source, t)]
    assert wrong == []


def test_the_rule_catches_an_import_that_runs_outward():
    assert not allowed("core.control.agent", "core.planning.plan")
    assert not allowed("core.robot.model", "core.language.quantities")
    assert not allowed("core.planning.shield", "ros.qos")
    assert allowed("core.planning.shield", "core.control.motion")


def test_every_part_is_known():
    parts = {
        part_of(".".join(p.relative_to(PACKAGE).with_suffix("").parts))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py"
    }
    assert parts <= set(ALLOWED)


def test_no_module_name_is_used_twice():
    names = Counter(p.stem for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")
    assert [name for name, count in names.items() if count > 1] == []
