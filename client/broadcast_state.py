"""What the broadcaster does, decided apart from its sockets (feature S2, C6, C7, U9).

``BroadcastState`` is fed what happens (a slave took the session, a frame was captured, a
message came from the slave, the user or the camera paused, a move succeeded or failed, the
slave was lost) and answers with ``client.actions`` for the loop in ``client.broadcaster``
to carry out. The rules it keeps:

- One frame in flight: while the slave has not acknowledged the last frame, the next is
  skipped; after ``ACK_LIMIT`` seconds of silence from the slave it counts as lost.
- Held (paused by the user, or the camera is out): nothing is uploaded, the slave is told
  once per change, and a newly joined slave is told at once.
- Make-before-break (MIGRATE, C7): the new slave becomes the one frames go to as soon as it
  has accepted the session; the old one is told BROADCAST_MOVED and closed only once the new
  one has acknowledged a frame, or at once if held (no frame would come to confirm it).
- A lost slave is remembered so the masters place the session elsewhere, and counted; a
  broadcast that has been on a slave waits out cluster outages when it joins again.
"""

from __future__ import annotations

from client.actions import Close, Move, Say, Send, Upload
from client.broadcast_stats import BroadcastStats
from client.retry import OUTAGE_CODES
from common.errors import ErrorCode
from common.messages.basic import Error
from common.messages.streaming import (
    Ack,
    BroadcastMoved,
    BroadcastPause,
    BroadcastResume,
    BroadcastStop,
    Migrate,
    Reconnect,
    ViewerChange,
    ViewerEvent,
)
from common.throttle import Throttle, kbps_to_bytes

ACK_LIMIT = 5.0


class BroadcastState:
    def __init__(self, max_kbps: float | None = None, ack_limit: float = ACK_LIMIT):
        self.stats = BroadcastStats()
        self.throttle = Throttle(kbps_to_bytes(max_kbps)) if max_kbps else None
        self.ack_limit = ack_limit
        self.paused = False  # by the user
        self.source_out = False  # a camera URL is being reopened
        self.slave = None  # the session frames go to
        self.moving_from = None  # the session being left, make-before-break
        self.lost_slave: str | None = None  # the id of the slave just lost, for the masters
        self.in_flight: int | None = None

    @property
    def held(self) -> bool:
        """Paused, by the user or while the camera is out: nothing is uploaded."""
        return self.paused or self.source_out

    def rejoin_codes(self) -> set[ErrorCode]:
        """Refusals to wait out when joining: none for a new broadcast (the user is told at
        once), cluster outages once it has been on a slave."""
        return set(OUTAGE_CODES) if self.stats.slaves else set()

    def connected(self, session) -> list:
        """A slave took the session (first, or again after a loss)."""
        self.slave, self.lost_slave, self.in_flight = session, None, None
        self.stats.slaves.append(session.slave)
        actions: list = [Say(f"broadcasting through slave {session.slave}")]
        return actions + self._tell_held()

    def set_paused(self, paused: bool) -> list:
        """The user pauses (the session and its viewers stay) or resumes."""
        return self._hold(paused, self.source_out) + [Say("paused" if paused else "resumed")]

    def source_lost(self, why: str) -> list:
        self.stats.source_outages += 1
        return [Say(f"source out ({why}); broadcast paused, reopening it"), *self._hold(self.paused, True)]

    def source_back(self, after: float) -> list:
        return [Say(f"source back after {after:.1f} s; broadcast resumed"), *self._hold(self.paused, False)]

    def captured(self, uploading: bool = True, peers_want: bool = False, silent_for: float = 0.0) -> list:
        """A frame to upload (not held, a slave joined). ``uploading``: turbo mode has not
        stopped uploads; ``peers_want``: a peer link is ready for one; ``silent_for``: seconds
        since the slave last said anything."""
        self.stats.captured += 1
        to_slave = uploading
        if self.in_flight is not None and to_slave:
            to_slave = False
            if silent_for > self.ack_limit:  # the slave's host is gone without a word
                return self.lost(f"no acknowledgement for {self.ack_limit:g} s")
        if not (to_slave or peers_want):
            self.stats.skipped += 1
            return []
        return [Upload(self.stats.captured, to_slave, peers_want)]

    def within_rate(self, now: float, size: int) -> bool:
        """The upload cap (S6): False, and the frame dropped, if ``size`` bytes would exceed it."""
        if self.throttle is None:
            return True
        if self.throttle.delay(now, size) > 0:
            self.stats.throttled += 1
            return False
        self.throttle.record(now, size)
        return True

    def sent(self, seq: int) -> None:
        self.in_flight = seq
        self.stats.sent += 1

    def received(self, message) -> list:
        """A message from the slave (turbo mode's own already taken out)."""
        if isinstance(message, Ack):
            return self._acked(message.seq)
        if isinstance(message, Migrate) and self.moving_from is None:
            return [Say(f"moving off slave {self.slave.slave}: {message.reason or 'asked to move'}"), Move()]
        if isinstance(message, ViewerEvent):
            verb = "joined" if message.event == ViewerChange.JOIN else "left"
            return [Say(f"{message.viewer} {verb} ({message.viewers} watching)")]
        if isinstance(message, Reconnect):
            return self.lost(f"slave asked to reconnect: {message.reason}")
        if isinstance(message, Error):
            return self.lost(f"slave error: {message.message}")
        return []

    def moved(self, session) -> list:
        """The slave a master chose for the move took the session: frames go there now."""
        self.moving_from, self.slave, self.in_flight = self.slave, session, None
        self.stats.slaves.append(session.slave)
        if not self.held:
            return []
        # No frame will confirm the new slave; that it took the session is enough.
        return [Send(session, BroadcastPause()), *self._leave_old_slave()]

    def move_failed(self, why: str) -> list:
        return [Say(f"could not move ({why}); staying on slave {self.slave.slave}")]

    def lost(self, why: str) -> list:
        """The slave went away: close it; the loop asks the masters for another."""
        session, self.slave = self.slave, None
        self.lost_slave = session.slave_id
        self.stats.reconnects += 1
        return [Say(f"lost the slave ({why}); reconnecting through the masters"), Close(session)]

    def stopped(self) -> list:
        """The broadcast ends: the slave is told."""
        session, self.slave = self.slave, None
        return [Close(session, BroadcastStop())] if session is not None else []

    def _acked(self, seq: int) -> list:
        if seq != self.in_flight:
            return []
        self.in_flight = None
        self.stats.acked += 1
        return self._leave_old_slave() if self.moving_from is not None else []

    def _leave_old_slave(self) -> list:
        old, self.moving_from = self.moving_from, None
        self.stats.moves += 1
        return [Close(old, BroadcastMoved()), Say(f"moved to slave {self.slave.slave}")]

    def _hold(self, paused: bool, source_out: bool) -> list:
        before = self.held
        self.paused, self.source_out = paused, source_out
        return self._tell_held(resume=True) if self.held != before else []

    def _tell_held(self, resume: bool = False) -> list:
        """Tell the slave we hold (or, after a change, that we resume)."""
        if self.slave is None or not (self.held or resume):
            return []
        return [Send(self.slave, BroadcastPause() if self.held else BroadcastResume())]
