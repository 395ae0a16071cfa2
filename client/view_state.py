"""What the viewer does, decided apart from its sockets (feature S4, C6, C7, U7, U9).

``ViewState`` is fed what happens (a slave took the viewer, a message or a frame came, the
slave fell silent, the user paused, a move was followed or not, the slave was lost) and
answers with ``client.actions`` for the loop in ``client.viewer`` to carry out. The rules:

- A first join fails at once if the user is not broadcasting; a reconnection keeps trying
  through "not broadcasting" and cluster outages, since the broadcaster is on its way to
  another slave.
- MOVE (make-before-break): the viewer joins the broadcast's new slave while still on the
  old one, and closes the old one only then; if it cannot, it reconnects through the masters.
- A slave silent for ``SILENCE_LIMIT`` seconds (slaves send keepalives to quiet viewers),
  RECONNECT or an ERROR: the slave is lost and the viewer reconnects.
- BROADCAST_ENDED ends the viewing (``BroadcastOver``, not a failure); REMOVED, the
  broadcaster throwing this viewer out, ends it with one line (``Thrown``) and no return.
- While paused, a newly joined slave is told at once.
"""

from __future__ import annotations

from client.actions import Cap, Close, Move, Say, Send
from client.errors import FramecastError
from client.retry import OUTAGE_CODES
from client.viewer_stats import ViewerStats
from common.errors import ErrorCode
from common.messages.admission import Removed
from common.messages.basic import Error
from common.messages.streaming import (
    BroadcastEnded,
    BroadcastPaused,
    Move as MoveMessage,
    Reconnect,
    ViewerCap,
    ViewerPause,
    ViewerResume,
)
from common.protocol import FrameInfo

SILENCE_LIMIT = 10.0


class BroadcastOver(FramecastError):
    """The broadcaster stopped; not a failure of the viewer."""


class Thrown(FramecastError):
    """The broadcaster threw this viewer out; it does not come back by itself."""


class ViewState:
    def __init__(self, target: str, silence_limit: float = SILENCE_LIMIT):
        self.target = target
        self.silence_limit = silence_limit
        self.stats = ViewerStats()
        self.slave = None  # the session images come from

    @staticmethod
    def join_codes(first: bool) -> set[ErrorCode]:
        """Refusals to wait out when joining: none the first time, then the broadcaster's moves."""
        return set() if first else {ErrorCode.NOT_BROADCASTING} | OUTAGE_CODES

    def joined(self, session, again: bool = False) -> list:
        """A slave took the viewer: the first, or (``again``) one found after a loss."""
        self.slave = session
        self.stats.slave = session.slave
        self.stats.cap_kbps = session.accepted.cap_kbps
        self.stats.broadcaster_paused = session.accepted.paused
        if again:
            self.stats.reconnects += 1
        told = [Send(session, ViewerPause())] if self.stats.paused else []
        return [*told, Say(f"watching {self.target} on slave {session.slave}")]

    def followed(self, session) -> list:
        """The broadcast's new slave took the viewer: the old one is closed only now."""
        old = self.slave
        actions = self.joined(session)
        self.stats.moves += 1
        return [*actions, Close(old)]

    def follow_failed(self, why: str) -> list:
        old, self.slave = self.slave, None
        return [Say(f"could not follow the broadcast ({why}); reconnecting"), Close(old)]

    def counts(self, info: FrameInfo, size: int, two_paths: bool) -> bool:
        """A frame arrived (and was acknowledged); False if the other path brought it already
        (``two_paths``: a peer link is up, and during a switch both carry the same frames)."""
        if two_paths and info.seq <= self.stats.last_seq:
            return False
        self.stats.frame(info, size)
        return True

    def received(self, message) -> list:
        """A control message from the slave (frames and turbo mode's own taken out)."""
        if isinstance(message, MoveMessage):
            return [Move()]
        if isinstance(message, ViewerCap):
            self.stats.cap_kbps = message.cap_kbps
            return [Cap(message.cap_kbps)]
        if isinstance(message, BroadcastPaused):
            self.stats.broadcaster_paused = message.paused
            return [Say(f"{self.target} {'paused' if message.paused else 'resumed'} the broadcast")]
        if isinstance(message, BroadcastEnded):
            raise BroadcastOver(f"{self.target} ended the broadcast")
        if isinstance(message, Removed):
            raise Thrown(f"{message.broadcaster} removed you")
        if isinstance(message, (Reconnect, Error)):
            reason = message.reason if isinstance(message, Reconnect) else message.message
            return self.lost(f"slave {self.slave.slave} asked us to reconnect: {reason}")
        return []

    def quiet(self, silent_for: float) -> list:
        """Nothing came within a wait; ``silent_for``: seconds since the slave last spoke."""
        if silent_for > self.silence_limit:
            return self.lost(f"no word from slave {self.slave.slave} for {self.silence_limit:g} s")
        return []

    def lost(self, why: str) -> list:
        session, self.slave = self.slave, None
        return [Say(f"lost the slave ({why}); reconnecting through the masters"), Close(session)]

    def set_paused(self, paused: bool) -> list:
        """Pause (no images are sent to us at all) or resume (the newest frame comes at once)."""
        self.stats.paused = paused
        told = [Send(self.slave, ViewerPause() if paused else ViewerResume())] if self.slave is not None else []
        return [*told, Say("paused" if paused else "resumed")]

    def stopped(self) -> list:
        session, self.slave = self.slave, None
        return [Close(session)] if session is not None else []
