"""The viewers of this slave's broadcasts: attaching one (or another slave relaying a
broadcast from here) once its ticket passed (``slave.admission``), and detaching it however
it leaves, with what the masters, the broadcaster and turbo mode are told of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from common.messages.cluster import SessionAdd, SessionKind, SessionRemove, ViewerReport
from common.messages.streaming import ViewerChange, ViewerEvent
from common.tokens import ViewTicket
from slave.broadcasts import BroadcastTable
from slave.fanout import Broadcast, FanoutStats, ViewerStream
from slave.peer import Peer
from slave.turbo import TurboSwitch
from slave.uplink import Uplink


@dataclass
class ViewerSession:
    """Where a viewer session lives here, and what the masters were told of it."""

    broadcast: Broadcast
    peer: Peer
    report: ViewerReport


class Viewers:
    def __init__(
        self, table: BroadcastTable, turbo: TurboSwitch, uplink: Uplink, stats: FanoutStats, reactor: IReactorTime
    ):
        self.table = table
        self.turbo = turbo
        self.uplink = uplink
        self.stats = stats
        self.reactor = reactor
        self.sessions: dict[str, ViewerSession] = {}

    def attach(
        self, broadcast: Broadcast, claims: ViewTicket, peer: Peer, write: Callable[[bytes], None]
    ) -> ViewerStream:
        stream = ViewerStream(claims.user, write, self.stats, self.reactor, claims.session, claims.cap_kbps)
        broadcast.add_viewer(peer, stream)
        report = ViewerReport(claims.user, claims.session, broadcast.user, claims.speed_cap, claims.allowance)
        self.sessions[claims.session] = ViewerSession(broadcast, peer, report)
        self.uplink.report(
            SessionAdd(SessionKind.VIEW, report.user, report.session, report.target, report.speed_cap, report.allowance)
        )
        self.announce(broadcast, stream.user, joined=True)
        return stream

    def attach_relay(
        self, broadcast: Broadcast, relay: str, peer: Peer, write: Callable[[bytes], None]
    ) -> ViewerStream:
        """Another slave pulls ``broadcast`` from here to relay it (C10): a viewer stream like
        any other (flow control, skipping), but no viewer session of any user."""
        stream = ViewerStream(f"relay:{relay}", write, self.stats, self.reactor)
        broadcast.add_viewer(peer, stream)
        self.turbo.viewers_changed(broadcast)
        return stream

    def detach(self, broadcast: Broadcast, peer: Peer) -> None:
        stream = broadcast.remove_viewer(peer)
        if stream is None:
            return
        if self.sessions.pop(stream.session, None) is not None:
            self.uplink.report(SessionRemove(SessionKind.VIEW, stream.user, stream.session))
            self.announce(broadcast, stream.user, joined=False)
            self.turbo.session_ended(broadcast, stream)
        self.turbo.viewers_changed(broadcast, left=peer)
        self.table.viewers_left(broadcast)

    def announce(self, broadcast: Broadcast, viewer: str, joined: bool) -> None:
        """Tell the broadcaster a viewer joined or left, with the count now (U6)."""
        broadcaster = self.table.broadcaster(broadcast.user)
        if broadcaster is not None:
            change = ViewerChange.JOIN if joined else ViewerChange.LEAVE
            broadcaster.send(ViewerEvent(change, viewer, len(broadcast.viewers)))
