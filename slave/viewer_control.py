"""What a slave does for the viewers of its broadcasts beyond sending frames: their caps
(S7), the broadcaster's pause (U9), throws (U7), the viewers list (U6), keepalives for
quiet viewers, and dropping viewers that stopped acknowledging."""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from common.errors import ErrorCode
from common.messages.admission import Path, Removed, ViewerRow, ViewersQuery, ViewersReport
from common.messages.streaming import BroadcastPaused, Keepalive, ViewerCap
from slave.bans import Bans
from slave.broadcasts import BroadcastTable
from slave.config import SlaveConfig
from slave.fanout import Broadcast
from slave.viewers import Viewers


def set_paused(broadcast: Broadcast, paused: bool) -> None:
    """The broadcaster paused or resumed (U9): the session stays, viewers are told."""
    broadcast.paused = paused
    for peer in list(broadcast.viewers):
        peer.send(BroadcastPaused(broadcast.user, paused))


class ViewerControl:
    log = Logger()

    def __init__(self, table: BroadcastTable, viewers: Viewers, bans: Bans, config: SlaveConfig, reactor: IReactorTime):
        self.table = table
        self.viewers = viewers
        self.bans = bans
        self.config = config
        self.reactor = reactor

    def throw(self, target: str, viewer: str, until: float) -> None:
        """The broadcaster threw ``viewer`` out (U7): its streams here end at once, and the
        tickets it still holds are refused until the ban ends, whichever master issued them."""
        self.bans.ban(target, viewer, until)
        broadcast = self.table.get(target)
        for peer, stream in list(broadcast.viewers.items()) if broadcast else ():
            if stream.user == viewer:
                peer.drop(Removed(target))
                self.viewers.detach(broadcast, peer)

    def report(self, query: ViewersQuery) -> ViewersReport:
        """Who watches ``query.target`` here (U6), with each stream's rates."""
        broadcast = self.table.get(query.target)
        streams = broadcast.viewers.values() if broadcast is not None else ()
        slave_id = self.config.id
        rows = tuple(
            ViewerRow(
                s.user, s.started, round(s.fps, 2), round(s.kbps, 1), slave_id, Path.P2P if s.peer else Path.SERVER
            )
            for s in streams
            if s.session  # not a relay pulling from here
        )
        return ViewersReport(query.query, query.reply_to, rows)

    def set_cap(self, session: str, cap_kbps: float | None) -> None:
        """A master recomputed this viewer session's share of its user's allowance (S7)."""
        entry = self.viewers.sessions.get(session)
        stream = entry.broadcast.viewers.get(entry.peer) if entry else None
        if stream is not None and stream.cap_kbps != (cap_kbps or None):
            stream.set_cap(cap_kbps)
            entry.peer.send(ViewerCap(stream.cap_kbps))

    def check(self) -> None:
        """Once a second: send a keepalive to viewers that got nothing for ``keepalive``
        seconds (paused or capped), so a viewer can tell a quiet stream from a vanished
        slave, and drop viewers that acknowledged nothing for ``stall_timeout`` seconds."""
        now = self.reactor.seconds()
        for broadcast in self.table.all():
            for peer, stream in broadcast.viewers.items():
                stream.sample(now)
                if stream.in_flight is None and now - stream.sent_at > self.config.keepalive:
                    stream.sent_at = now
                    peer.send(Keepalive())
        self.drop_stalled(now)
        self.bans.expire(now)

    def drop_stalled(self, now: float) -> None:
        timeout = self.config.stall_timeout
        for broadcast in self.table.all():
            for peer, stream in list(broadcast.viewers.items()):
                since = stream.stalled_since()
                if since is not None and since < now - timeout:
                    self.log.info("dropping stalled viewer {user} of {target}", user=stream.user, target=broadcast.user)
                    peer.reject(ErrorCode.STALLED, f"no frame acknowledged for {timeout:g} s; viewer dropped")
                    self.viewers.detach(broadcast, peer)
