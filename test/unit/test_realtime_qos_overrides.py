"""Every publisher and subscription of the package's nodes can have its QoS overridden from
YAML (QoSOverridingOptions, ARCHITECTURE section 8): found by reading the source (ast), so a
new call site without `qos_overriding_options` fails here, not on a deployment."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "llm_mas_ros"
CREATORS = {"create_publisher", "create_subscription"}
# The nodes of the `llm-mas-ros` command itself (say/run/plan's client, the monitor): built
# in-process with no ROS arguments, so no parameter could ever reach them to override a QoS
# (QoSOverridingOptions reads node parameters at creation). They take the graph's profiles
# from qos.py as they are, which is what makes them match the graph's nodes.
CLI_NODES = {"ros/client.py", "ros/monitor.py"}


def call_sites(root: Path = PACKAGE) -> list[tuple[str, int, bool]]:
    """(file, line, passes qos_overriding_options) of every creator call in nodes/ and ros/."""
    sites = []
    for folder in ("nodes", "ros"):
        for path in sorted((root / folder).rglob("*.py")):
            name = str(path.relative_to(root))
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in CREATORS
                ):
                    overridable = any(k.arg == "qos_overriding_options" for k in node.keywords)
                    sites.append((name, node.lineno, overridable))
    return sites


def test_every_publisher_and_subscription_of_the_nodes_is_overridable():
    sites = call_sites()
    files = {name for name, _, _ in sites}
    # The finder finds them: the nodes' own and the shared helpers' (a finder that found none
    # would pass vacuously).
    assert {"nodes/agents_node.py", "nodes/planner_node.py", "nodes/sim_node.py"} <= files
    assert {"ros/agent_endpoint.py", "ros/qos.py"} <= files
    missing = [f"{name}:{line}" for name, line, ok in sites if not ok and name not in CLI_NODES]
    assert missing == []


def test_the_finder_tells_a_call_without_overriding_options(tmp_path):
    (tmp_path / "nodes").mkdir()
    (tmp_path / "nodes" / "n.py").write_text(
        "self.create_publisher(String, '/x', 10)\n"
        "self.create_subscription(String, '/x', f, 10, qos_overriding_options=o)\n"
    )
    assert call_sites(tmp_path) == [("nodes/n.py", 1, False), ("nodes/n.py", 2, True)]
