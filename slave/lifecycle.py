"""How a broadcast on a slave ends or moves: its broadcaster stops, drops (and has
``grace`` seconds to come back), moves to another slave, or is sent away."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from common.messages.cluster import SessionKind, SessionRemove
from common.messages.streaming import BroadcastEnded, Migrate, Move, Reconnect
from slave.fanout import Broadcast

if TYPE_CHECKING:
    from slave.node import Peer, Slave


class Lifecycle:
    log = Logger()

    def __init__(self, slave: "Slave"):
        self.slave = slave
        self.moves = {"broadcasts": 0, "viewers": 0}
        self._orphan_timers: dict[str, Any] = {}

    def broadcaster_left(self, broadcast: Broadcast, peer: "Peer", clean: bool) -> None:
        """The broadcaster's connection ended: at once if it stopped, after the grace if not."""
        slave = self.slave
        if slave.broadcasters.get(broadcast.user) is not peer:
            return
        del slave.broadcasters[broadcast.user]
        slave.turbo.ended(broadcast)
        if clean:
            self.end(broadcast)
        else:
            self._orphan_timers[broadcast.user] = slave.reactor.callLater(
                slave.config.grace, self._orphan_expired, broadcast
            )

    def _orphan_expired(self, broadcast: Broadcast) -> None:
        self._orphan_timers.pop(broadcast.user, None)
        if broadcast.user not in self.slave.broadcasters and not broadcast.moved:
            self.end(broadcast)

    def cancel_orphan_timer(self, user: str) -> None:
        timer = self._orphan_timers.pop(user, None)
        if timer is not None and timer.active():
            timer.cancel()

    def moved(self, broadcast: Broadcast) -> None:
        """The broadcast lives on another slave now (or will: its broadcaster is away): the
        viewers here are told to follow it, and it is forgotten once they have."""
        if broadcast.moved:
            return
        slave = self.slave
        broadcast.moved = True
        self.moves["broadcasts"] += 1
        slave.broadcasters.pop(broadcast.user, None)
        self.cancel_orphan_timer(broadcast.user)
        self._report_gone(broadcast)
        for peer in list(broadcast.viewers):
            peer.send(Move("the broadcast moved to another slave"))
            self.moves["viewers"] += 1
        self.forget_if_left(broadcast)

    def elsewhere(self, user: str, session: str) -> None:
        """A master saw this broadcast's broadcaster come back on another slave. If it is not
        connected here any more, the viewers kept here follow it."""
        broadcast = self.slave.broadcasts.get(user)
        if broadcast is not None and broadcast.session == session and user not in self.slave.broadcasters:
            self.moved(broadcast)

    def forget_if_left(self, broadcast: Broadcast) -> None:
        broadcasts = self.slave.broadcasts
        if broadcast.moved and not broadcast.viewers and broadcasts.get(broadcast.user) is broadcast:
            del broadcasts[broadcast.user]

    def migrate(self, user: str, reason: str, draining: bool = False) -> None:
        """Ask a broadcaster to move to the slave a master chooses (drain, rebalance). In a
        drain, the viewers of a broadcast whose broadcaster is away go to find it at once."""
        broadcaster = self.slave.broadcasters.get(user)
        if broadcaster is not None:
            broadcaster.send(Migrate(reason))
        elif draining and user in self.slave.broadcasts:
            self.moved(self.slave.broadcasts[user])

    def end(self, broadcast: Broadcast) -> None:
        slave = self.slave
        if slave.broadcasts.get(broadcast.user) is not broadcast:
            return
        del slave.broadcasts[broadcast.user]
        self.cancel_orphan_timer(broadcast.user)
        for peer in list(broadcast.viewers):
            peer.drop(BroadcastEnded(broadcast.user))
            slave.detach_viewer(broadcast, peer)
        self._report_gone(broadcast)
        self.log.info("broadcast of {user} ended", user=broadcast.user)

    def _report_gone(self, broadcast: Broadcast) -> None:
        """The masters' table names the origin of a broadcast, never a relay of it."""
        if not broadcast.relayed:
            self.slave.report(SessionRemove(SessionKind.BROADCAST, broadcast.user, broadcast.session))

    def disconnect_everyone(self, reason: str) -> None:
        slave = self.slave
        for broadcast in list(slave.broadcasts.values()):
            broadcaster = slave.broadcasters.pop(broadcast.user, None)
            if broadcaster is not None:
                broadcaster.drop(Reconnect(reason))
            for peer in list(broadcast.viewers):
                peer.drop(Reconnect(reason))
                slave.detach_viewer(broadcast, peer)
            if not broadcast.moved:
                self._report_gone(broadcast)
            slave.relays.stop(broadcast)
            slave.broadcasts.pop(broadcast.user, None)
            self.cancel_orphan_timer(broadcast.user)
