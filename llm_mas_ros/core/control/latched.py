"""One latched topic heard two ways, so stock tools and late joiners are both served.

`<agent>/goal` and `/estop` are latched (TRANSIENT_LOCAL, ARCHITECTURE section 8): a restarted
agent gets its current goal and sees a standing stop. But a TRANSIENT_LOCAL subscription is
incompatible with a VOLATILE publisher, which is what `ros2 topic pub`, rqt and Foxglove offer:
their messages would never arrive. So a node subscribes twice: a *live* (VOLATILE) subscription
that matches every publisher and hears every message sent from now on, and a *latched*
(TRANSIENT_LOCAL) one whose only job is the history a late joiner is owed. A latched publisher's
new messages reach both; the rules below make each count once:

  * a goal from the latched path counts only while the agent has heard no goal at all (it is
    the history), and its copy on the live path, arriving within ECHO_WINDOW_S, is dropped;
    an agent told not to take its standing goal (robot.yaml `on_rejoin: hold`) ignores the
    latched path altogether: a new goal's live copy still reaches it;
  * a stop from the latched path can only engage the stop; a release is heard on the live path.
    Erring this way is safe: at worst an agent stays stopped, and a release never moves a joint.
"""

from __future__ import annotations

ECHO_WINDOW_S = 0.5  # a message reaches both subscriptions within milliseconds; s


class GoalInbox:
    """Decides which arriving goal texts an agent acts on. Times in s, on one monotonic clock."""

    def __init__(self, take_standing: bool = True) -> None:
        self.take_standing = take_standing  # act on the history a joiner is owed
        self.ignored: str | None = None  # the standing goal not taken (take_standing off)
        self._heard = False
        self._echo: tuple[str, float] | None = None  # latched goal whose live copy may follow

    def live(self, text: str, now: float) -> bool:
        """A goal on the live path: act on it unless it is the copy of the history just used."""
        echo, self._echo = self._echo, None
        self._heard = True
        return echo is None or echo[0] != text or now - echo[1] > ECHO_WINDOW_S

    def latched(self, text: str, now: float) -> bool:
        """A goal on the latched path: act on it only as the history of an agent with none,
        and only when standing goals are taken."""
        if self._heard:
            return False
        if not self.take_standing:
            self.ignored = text
            return False
        self._heard, self._echo = True, (text, now)
        return True


def latched_stop_applies(active: bool) -> bool:
    """A stop heard on the latched path engages the stop; its release is heard live."""
    return active
