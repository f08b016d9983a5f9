"""Named QoS profiles, one per topic family (ARCHITECTURE.md section 8).

Every publisher and subscription of the package takes its profile from here, and passes
`overridable()` so a deployment can change reliability/durability/depth per topic from YAML
(`qos_overrides./joint_states.subscription.reliability: reliable`), as ros2/demos shows.

No DDS deadline or liveliness is requested on subscriptions: a subscription that asks for a
deadline is *incompatible* with a publisher that offers none, which is what stock publishers
(joint_state_broadcaster, `ros2 topic pub`) offer; the agents and the planner enforce the same
timeouts with their own watchdogs instead (state_timeout_s, agent_timeout_s).
"""

from collections.abc import Callable
from typing import Any

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.subscription import Subscription


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
# Never replay old instructions to a restarted planner, and never drop one unread: KEEP_ALL at
# both ends. The planner stores up to 20 unread (the "/instruction" reader profile of
# config/fastdds.xml) and acknowledges them; a sender keeps what is not acknowledged yet, so
# one that outpaces the planner is held back (its publish fails once its history is full)
# instead of losing instructions. Keep-last 10 lost ~46% of a 1 kHz flood here, keep-last 100
# still some on a busy CPU. History is no compatibility policy: every /instruction publisher
# matches.
INSTRUCTIONS = QoSProfile(
    history=HistoryPolicy.KEEP_ALL,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
# A late joiner sees a standing stop.
ESTOP = _profile(depth=1, reliable=True, latched=True)
# The ROS convention for /diagnostics.
DIAGNOSTICS = _profile(depth=10, reliable=True, latched=False)
# The latest plan, for people and tools that join late.
PLAN = _profile(depth=1, reliable=True, latched=True)


def live(profile: QoSProfile) -> QoSProfile:
    """The VOLATILE twin of a latched profile: it matches every publisher, `ros2 topic pub`'s
    included, and hears what is sent from now on (see core/latched.py for the pair)."""
    return QoSProfile(
        history=profile.history,
        depth=profile.depth,
        reliability=profile.reliability,
        durability=DurabilityPolicy.VOLATILE,
    )


def overridable(entity_id: str | None = None) -> QoSOverridingOptions:
    """Allow reliability, durability, history and depth to be overridden by parameters;
    `entity_id` tells two subscriptions of one node to one topic apart."""
    return QoSOverridingOptions.with_default_policies(entity_id=entity_id)


def subscribe_latched(
    node: Node,
    msg_type: type,
    topic: str,
    profile: QoSProfile,
    on_live: Callable[[Any], None],
    on_latched: Callable[[Any], None],
) -> tuple[Subscription, Subscription]:
    """Subscribe to a latched topic twice: live (VOLATILE, matches every publisher) and latched
    (`profile`, for a late joiner's history). core/latched.py says how the two are reconciled."""
    return (
        node.create_subscription(
            msg_type, topic, on_live, live(profile), qos_overriding_options=overridable()
        ),
        node.create_subscription(
            msg_type,
            topic,
            on_latched,
            profile,
            qos_overriding_options=overridable("latched"),
            # A VOLATILE publisher cannot match this one by design; the live twin hears it.
            event_callbacks=SubscriptionEventCallbacks(incompatible_qos=lambda _event: None),
        ),
    )
