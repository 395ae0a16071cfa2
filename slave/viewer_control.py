"""What a slave does for the viewers of its broadcasts beyond sending frames: their caps
(S7), the broadcaster's pause (U9), join and leave events (U6), keepalives for quiet
viewers, and dropping viewers that stopped acknowledging."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from common.errors import ErrorCode, RequestError
from common.messages.admission import Path, Removed, ViewerRow, ViewersQuery, ViewersReport
from common.messages.streaming import BroadcastPaused, Keepalive, ViewerCap, ViewerChange, ViewerEvent
from common.tokens import ViewTicket
from slave.fanout import Broadcast

if TYPE_CHECKING:
    from slave.node import Slave


class ViewerControl:
    log = Logger()

    def __init__(self, slave: "Slave"):
        self.slave = slave
        self.bans: dict[tuple[str, str], float] = {}  # (broadcaster, viewer) -> until

    def throw(self, target: str, viewer: str, until: float) -> None:
        """The broadcaster threw ``viewer`` out (U7): its streams here end at once, and the
        tickets it still holds are refused, whichever master issued them: until the ban ends,
        or until every ticket signed before the throw has expired, if sooner. After that the
        masters alone decide (a new request the broadcaster accepts), so a viewer let back in
        gets in."""
        slave = self.slave
        self.bans[target, viewer] = min(until, slave.reactor.seconds() + slave.signer.kept_for(ViewTicket))
        broadcast = slave.broadcasts.get(target)
        for peer, stream in list(broadcast.viewers.items()) if broadcast else ():
            if stream.user == viewer:
                peer.drop(Removed(target))
                slave.detach_viewer(broadcast, peer)

    def check_ban(self, target: str, viewer: str) -> None:
        until = self.bans.get((target, viewer))
        if until is not None and self.slave.reactor.seconds() < until:
            raise RequestError(ErrorCode.REMOVED, f"{target} removed you")

    def report(self, query: ViewersQuery) -> ViewersReport:
        """Who watches ``query.target`` here (U6), with each stream's rates."""
        broadcast = self.slave.broadcasts.get(query.target)
        streams = broadcast.viewers.values() if broadcast is not None else ()
        slave_id = self.slave.config.id
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
        entry = self.slave.viewer_sessions.get(session)
        stream = entry.broadcast.viewers.get(entry.peer) if entry else None
        if stream is not None and stream.cap_kbps != (cap_kbps or None):
            stream.set_cap(cap_kbps)
            entry.peer.send(ViewerCap(stream.cap_kbps))

    def set_broadcast_paused(self, broadcast: Broadcast, paused: bool) -> None:
        """The broadcaster paused or resumed (U9): the session stays, viewers are told."""
        broadcast.paused = paused
        for peer in list(broadcast.viewers):
            peer.send(BroadcastPaused(broadcast.user, paused))

    def announce(self, broadcast: Broadcast, viewer: str, joined: bool) -> None:
        """Tell the broadcaster a viewer joined or left, with the count now (U6)."""
        broadcaster = self.slave.broadcasters.get(broadcast.user)
        if broadcaster is not None:
            change = ViewerChange.JOIN if joined else ViewerChange.LEAVE
            broadcaster.send(ViewerEvent(change, viewer, len(broadcast.viewers)))

    def check(self) -> None:
        """Once a second: send a keepalive to viewers that got nothing for ``keepalive``
        seconds (paused or capped), so a viewer can tell a quiet stream from a vanished
        slave, and drop viewers that acknowledged nothing for ``stall_timeout`` seconds."""
        slave = self.slave
        now = slave.reactor.seconds()
        for broadcast in slave.broadcasts.values():
            for peer, stream in broadcast.viewers.items():
                stream.sample(now)
                if stream.in_flight is None and now - stream.sent_at > slave.config.keepalive:
                    stream.sent_at = now
                    peer.send(Keepalive())
        self.drop_stalled(now)
        self.bans = {key: until for key, until in self.bans.items() if until > now}

    def drop_stalled(self, now: float) -> None:
        slave = self.slave
        limit = now - slave.config.stall_timeout
        for broadcast in list(slave.broadcasts.values()):
            for peer, stream in list(broadcast.viewers.items()):
                since = stream.stalled_since()
                if since is not None and since < limit:
                    self.log.info("dropping stalled viewer {user} of {target}", user=stream.user, target=broadcast.user)
                    peer.reject(
                        ErrorCode.STALLED, f"no frame acknowledged for {slave.config.stall_timeout:g} s; viewer dropped"
                    )
                    slave.detach_viewer(broadcast, peer)
