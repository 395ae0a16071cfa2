"""Which way a viewer's images come in turbo mode (P1-P3), decided apart from the peer link's
sockets and the thread that reaches the broadcaster.

The images come through the slave (``SERVER``) until the slave offers turbo mode and the
first frame arrives over the peer link (``P2P``); the slave hears of each switch (TURBO_PATH).
TURBO_END (a second viewer came), a new slave, a link that fails or falls silent, or a
broadcaster that cannot be reached, bring the images back through the slave. Failing to
reach the broadcaster is told to the user once, not at every offer. A link not in use, or
while the user pauses, is paused rather than closed, so going back to it is instant.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.actions import Say, Send
from common.messages.admission import Path
from common.messages.streaming import ViewerPause, ViewerResume
from common.messages.turbo import TurboPath

SERVER, P2P = Path.SERVER, Path.P2P
TO_SLAVE, TO_LINK = "the slave", "the peer link"  # where a ``Send`` goes


@dataclass(frozen=True)
class Reach:
    """Start reaching the broadcaster at the candidates the offer names."""


class TurboSwitch:
    def __init__(self, target: str):
        self.target = target
        self.path = SERVER
        self.wanted = False  # the slave offered: images should come over the link
        self.user_paused = False
        self.link_paused = False  # what the link was last told
        self.told_unreachable = False

    def offered(self, link_up: bool, reaching: bool) -> list:
        """TURBO_OFFER: use the link there is, or reach the broadcaster if no one is trying."""
        self.wanted = True
        if link_up:
            return self._sync_pause(link_up)
        return [] if reaching else [Reach()]

    def through_the_slave(self, link_up: bool) -> list:
        """TURBO_END, or a new slave that offers afresh: the slave's images; the link pauses."""
        self.wanted = False
        actions: list = []
        if self.path == P2P:
            self.path = SERVER
            actions.append(Say(f"images from {self.target} through the slave again"))
        return actions + self._sync_pause(link_up)

    def reached(self) -> list:
        """A new link to the broadcaster: it starts unpaused, so it is told what it should be."""
        self.link_paused = False
        return self._sync_pause(link_up=True)

    def peer_frame(self) -> list:
        """A frame came over the link: once wanted, the images are peer to peer."""
        if not self.wanted or self.path != SERVER:
            return []
        self.path = P2P
        return [Send(TO_SLAVE, TurboPath(True)), Say(f"images from {self.target} peer to peer (turbo)")]

    def set_paused(self, paused: bool, link_up: bool) -> list:
        self.user_paused = paused
        return self._sync_pause(link_up)

    def fell_back(self, why: str) -> list:
        """The link failed, or could not be made: back to the slave's images."""
        was_p2p, self.path, self.wanted = self.path == P2P, SERVER, False
        actions: list = [Send(TO_SLAVE, TurboPath(False, why[:128]))]
        if was_p2p or not self.told_unreachable:
            self.told_unreachable = not was_p2p
            retry = "" if was_p2p else " (turbo is tried again later)"
            actions.append(Say(f"turbo: {why}; images through the slave{retry}"))
        return actions

    def _sync_pause(self, link_up: bool) -> list:
        pause = self.user_paused or not self.wanted
        if not link_up or pause == self.link_paused:
            return []
        self.link_paused = pause
        return [Send(TO_LINK, ViewerPause() if pause else ViewerResume())]
