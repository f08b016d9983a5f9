"""Named QoS profiles, one per topic family (ARCHITECTURE.md section 8).

Every publisher and subscription of the package takes its profile from here, and passes
`overridable()` so a deployment can change reliability/durability/depth per topic from YAML
(`qos_overrides./joint_states.subscription.reliability: reliable`), as ros2/demos shows.

No DDS deadline or liveliness is requested on subscriptions: a subscription that asks for a
deadline is *incompatible* with a publisher that offers none, which is what stock publishers
(joint_state_broadcaster, `ros2 topic pub`) offer; the agents and the planner enforce the same
timeouts with their own watchdogs instead (state_timeout_s, agent_timeout_s).
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions


def _profile(depth: int, reliable: bool, latched: bool) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


# Newest state wins; a stale one is useless, and a retransmission would only add delay.
JOINT_STATES = _profile(depth=1, reliable=False, latched=False)
# ros2_control's forward command controllers subscribe reliable; depth 1 = no queueing delay.
COMMANDS = _profile(depth=1, reliable=True, latched=False)
# A restarted agent gets its current goal.
GOALS = _profile(depth=1, reliable=True, latched=True)
# Never replay old instructions to a restarted planner.
INSTRUCTIONS = _profile(depth=10, reliable=True, latched=False)
# A late joiner sees a standing stop.
ESTOP = _profile(depth=1, reliable=True, latched=True)
# The ROS convention for /diagnostics.
DIAGNOSTICS = _profile(depth=10, reliable=True, latched=False)
# The latest plan, for people and tools that join late.
PLAN = _profile(depth=1, reliable=True, latched=True)


def overridable() -> QoSOverridingOptions:
    """Allow reliability, durability, history and depth to be overridden by parameters."""
    return QoSOverridingOptions.with_default_policies()
