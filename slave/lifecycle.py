"""What a broadcast's life on a slave means for everyone concerned: it starts (or comes back,
or is adopted by a relay), its broadcaster stops, drops (and has ``grace`` seconds to come
back), moves to another slave, or is sent away. Each step is one transition of
``slave.broadcast_life``, made by the table (``slave.broadcasts``); this module sends the
messages and reports that go with it."""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from common.messages.cluster import SessionAdd, SessionKind, SessionRemove
from common.messages.streaming import BroadcastEnded, Migrate, Move, Reconnect
from common.tokens import BroadcastTicket
from slave.broadcast_life import Event, State
from slave.broadcasts import BroadcastTable
from slave.fanout import Broadcast
from slave.peer import Peer
from slave.turbo import TurboSwitch
from slave.uplink import Uplink
from slave.viewers import Viewers


class Lifecycle:
    log = Logger()

    def __init__(
        self,
        table: BroadcastTable,
        viewers: Viewers,
        turbo: TurboSwitch,
        uplink: Uplink,
        reactor: IReactorTime,
        grace: float,
    ):
        self.table = table
        self.viewers = viewers
        self.turbo = turbo
        self.uplink = uplink
        self.reactor = reactor
        self.grace = grace
        self.moves = {"broadcasts": 0, "viewers": 0}

    def start(self, claims: BroadcastTicket, peer: Peer, host: str) -> tuple[Broadcast, str | None]:
        """``peer`` (at ``host``) broadcasts with these checked claims: the broadcast, and its
        turbo key if it has turbo mode."""
        user, session = claims.user, claims.session
        broadcast, previous = self.table.take_broadcaster(user, session, peer)
        self.uplink.report(SessionAdd(SessionKind.BROADCAST, user, session))  # (re)confirms the entry
        if previous is not None:
            previous.drop(Reconnect("replaced by a newer connection of the same broadcast"))
        self.log.info("broadcast of {user} started (session {session})", user=user, session=session)
        return broadcast, self.turbo.started(broadcast, claims, host)

    def broadcaster_left(self, broadcast: Broadcast, peer: Peer, clean: bool) -> None:
        """The broadcaster's connection ended: at once if it stopped, after the grace if not."""
        if self.table.broadcaster(broadcast.user) is not peer:
            return
        self.turbo.ended(broadcast)
        if clean:
            self.end(broadcast, Event.STOP)
        else:
            self.table.orphan(broadcast, self.reactor.callLater(self.grace, self._orphan_expired, broadcast))

    def _orphan_expired(self, broadcast: Broadcast) -> None:
        if broadcast.life.state is State.ORPHANED:
            self.end(broadcast, Event.EXPIRE)

    def moved(self, broadcast: Broadcast) -> None:
        """The broadcast lives on another slave now (or will: its broadcaster is away): the
        viewers here are told to follow it, and it is forgotten once they have."""
        if broadcast.life.state is State.MOVED:
            return
        origin = broadcast.life.origin
        self.table.move(broadcast)
        self.moves["broadcasts"] += 1
        if origin:
            self._report_gone(broadcast)
        for peer in list(broadcast.viewers):
            peer.send(Move("the broadcast moved to another slave"))
            self.moves["viewers"] += 1
        self.table.viewers_left(broadcast)

    def elsewhere(self, user: str, session: str) -> None:
        """A master saw this broadcast's broadcaster come back on another slave. If it is not
        connected here any more, the viewers kept here follow it."""
        broadcast = self.table.get(user)
        if broadcast is not None and broadcast.session == session and self.table.broadcaster(user) is None:
            self.moved(broadcast)

    def migrate(self, user: str, reason: str, draining: bool = False) -> None:
        """Ask a broadcaster to move to the slave a master chooses (drain, rebalance). In a
        drain, the viewers of a broadcast whose broadcaster is away go to find it at once."""
        broadcaster = self.table.broadcaster(user)
        broadcast = self.table.get(user)
        if broadcaster is not None:
            broadcaster.send(Migrate(reason))
        elif draining and broadcast is not None:
            self.moved(broadcast)

    def end(self, broadcast: Broadcast, why: Event) -> None:
        """``why``: stop, expire, or upstream (a relay's upstream says it ended)."""
        origin = broadcast.life.origin
        if not self.table.end(broadcast, why):
            return
        for peer in list(broadcast.viewers):
            peer.drop(BroadcastEnded(broadcast.user))
            self.viewers.detach(broadcast, peer)
        if origin:
            self._report_gone(broadcast)
        self.log.info("broadcast of {user} ended", user=broadcast.user)

    def _report_gone(self, broadcast: Broadcast) -> None:
        """The masters' table names the origin of a broadcast, never a relay of it."""
        self.uplink.report(SessionRemove(SessionKind.BROADCAST, broadcast.user, broadcast.session))

    def disconnect_everyone(self, reason: str) -> None:
        for broadcast in self.table.all():
            origin = broadcast.life.origin
            broadcaster = self.table.shut_down(broadcast)
            if broadcaster is not None:
                broadcaster.drop(Reconnect(reason))
            for peer in list(broadcast.viewers):
                peer.drop(Reconnect(reason))
                self.viewers.detach(broadcast, peer)
            if origin:
                self._report_gone(broadcast)
