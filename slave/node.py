"""One slave node: admitting broadcasters and viewers, and reporting to the masters.

A broadcaster or viewer arrives with a ticket a master signed for this very slave (so the
slave needs no round trip to know a master placed them here); each ticket opens one
connection (``use_once``): a viewer that comes back asks a master again. Broadcasts live in
``broadcasts`` by user; ``lifecycle`` handles how they end or move, ``viewer_control``
the viewers' caps, keepalives and stalls, and ``drain`` (while one runs) the drain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from twisted.logger import Logger

from common.errors import ErrorCode, RequestError
from common.messages.cluster import (
    BroadcastReport,
    Heartbeat,
    SessionAdd,
    SessionKind,
    SessionRemove,
    SessionTable,
    SlaveState,
    ViewerReport,
)
from common.messages.schema import Control
from common.messages.streaming import Reconnect
from common.tokens import BroadcastTicket, Credential, CredentialError, NodeKeys, RelayTicket, ViewTicket
from slave.drain import Drain
from slave.fanout import Broadcast, FanoutStats, ViewerStream
from slave.lifecycle import Lifecycle
from slave.relay import Relays
from slave.turbo import TurboSwitch
from slave.viewer_control import ViewerControl

T = TypeVar("T", bound=Credential)


@dataclass
class SlaveConfig:
    id: str
    addr: str
    metrics_addr: str = ""
    web_addr: str = ""
    grace: float = 10.0
    refresh_interval: float = 120.0
    heartbeat_interval: float = 1.0
    drain_deadline: float = 30.0
    master_timeout: float = 5.0
    keepalive: float = 2.0
    container: str = ""
    stall_timeout: float = 20.0
    max_upload_kbps: float = 0.0
    upload_window: int = 32


class Peer(Protocol):
    """What the slave needs of a client connection."""

    def send(self, message: Control) -> None: ...

    def drop(self, message: Control) -> None: ...

    def reject(self, code: ErrorCode, message: str) -> None: ...


@dataclass
class ViewerSession:
    """Where a viewer session lives here, and what the masters were told of it."""

    broadcast: Broadcast
    peer: Peer
    report: ViewerReport


class MasterReporter(Protocol):
    def report(self, message: Control) -> None: ...

    def send_heartbeat(self) -> None: ...

    def send_table(self) -> None: ...

    def check_alive(self, timeout: float) -> None: ...


class Slave:
    log = Logger()

    def __init__(self, config: SlaveConfig, signer: NodeKeys, reactor):
        self.config = config
        self.signer = signer
        self.reactor = reactor
        self.stats = FanoutStats()
        self.broadcasts: dict[str, Broadcast] = {}
        self.broadcasters: dict[str, Peer] = {}
        self.viewer_sessions: dict[str, ViewerSession] = {}
        self.used_nonces: dict[str, float] = {}  # of broadcast and view tickets, until they expire
        self.master: MasterReporter | None = None
        self.state = SlaveState.LIVE
        self.drain: Drain | None = None
        self.heartbeats_sent = 0
        self.lifecycle = Lifecycle(self)
        self.viewer_control = ViewerControl(self)
        self.turbo = TurboSwitch(self)
        self.relays = Relays(self)
        self.peer_tls = None  # host -> TLS client options, when other slaves serve TLS (relay pulls)

    # --- admission --------------------------------------------------------------------
    def check_ticket(self, ticket: str, kind: type[T]) -> T:
        try:
            claims = self.signer.check(ticket, kind, self.reactor.seconds())
        except CredentialError as exc:
            raise RequestError(ErrorCode.BAD_TICKET, str(exc)) from None
        if claims.slave != self.config.id:
            raise RequestError(ErrorCode.WRONG_SLAVE, "this ticket was issued for another slave; ask a master again")
        return claims

    def start_broadcast(self, ticket: str, peer: Peer, host: str) -> tuple[Broadcast, str | None]:
        """Take a broadcast from ``host``: the broadcast, and its turbo key if it has turbo mode."""
        claims = self.check_ticket(ticket, BroadcastTicket)
        self.use_once(claims.nonce, BroadcastTicket)
        if self.state != SlaveState.LIVE:
            raise RequestError(ErrorCode.DRAINING, "this slave is draining; ask a master again")
        user, session = claims.user, claims.session
        broadcast = self.broadcasts.get(user)
        if broadcast is not None and broadcast.moved:
            broadcast = None  # it comes back after moving away: a fresh broadcast (old viewers are leaving)
        if broadcast is not None and broadcast.relayed:
            self.relays.adopt(broadcast, session)  # it was relayed here: its viewers stay
        if broadcast is not None and broadcast.session != session:
            raise RequestError(
                ErrorCode.ALREADY_BROADCASTING, f"{user} is already broadcasting (one broadcast per user)"
            )
        if broadcast is None:
            broadcast = self.broadcasts[user] = Broadcast(user, session, self.stats)
        self.report(SessionAdd(SessionKind.BROADCAST, user, session))  # (re)confirms the entry
        self.lifecycle.cancel_orphan_timer(user)
        previous = self.broadcasters.get(user)
        if previous is not None and previous is not peer:
            previous.drop(Reconnect("replaced by a newer connection of the same broadcast"))
        self.broadcasters[user] = peer
        self.log.info("broadcast of {user} started (session {session})", user=user, session=session)
        return broadcast, self.turbo.started(broadcast, claims, host)

    def use_once(self, nonce: str, kind: type[Credential] = ViewTicket) -> None:
        """A broadcast or view ticket opens one connection (a snapshot ticket, one image): its
        nonce (a view ticket's: its viewer session) is kept for as long as it could pass a check."""
        now = self.reactor.seconds()
        if len(self.used_nonces) > 1000:
            self.used_nonces = {n: until for n, until in self.used_nonces.items() if until > now}
        if not nonce or self.used_nonces.get(nonce, 0.0) > now:
            raise RequestError(ErrorCode.BAD_TICKET, "this ticket was already used; ask a master again")
        self.used_nonces[nonce] = now + self.signer.kept_for(kind)

    def attach_viewer(self, ticket: str, peer: Peer, write) -> tuple[Broadcast, ViewerStream]:
        claims = self.check_ticket(ticket, ViewTicket)
        self.use_once(claims.session)
        broadcast = self.broadcasts.get(claims.target)
        if broadcast is None and claims.upstream and self.state == SlaveState.LIVE:
            broadcast = self.relays.start(claims)  # the first viewer of a relay here (C10)
        if broadcast is None or broadcast.moved:
            raise RequestError(
                ErrorCode.NOT_HERE, f"{claims.target} is not broadcasting on this slave; ask a master again"
            )
        self.viewer_control.check_ban(broadcast.user, claims.user)
        stream = ViewerStream(claims.user, write, self.stats, self.reactor, claims.session, claims.cap_kbps)
        broadcast.add_viewer(peer, stream)
        report = ViewerReport(claims.user, claims.session, broadcast.user, claims.speed_cap, claims.allowance)
        self.viewer_sessions[claims.session] = ViewerSession(broadcast, peer, report)
        self.report(
            SessionAdd(SessionKind.VIEW, report.user, report.session, report.target, report.speed_cap, report.allowance)
        )
        self.viewer_control.announce(broadcast, stream.user, joined=True)
        return broadcast, stream

    def attach_relay(self, ticket: str, peer: Peer, write) -> tuple[Broadcast, ViewerStream]:
        """Another slave pulls a broadcast from here to relay it (C10): a viewer stream like
        any other (flow control, skipping), but no viewer session of any user."""
        claims = self.check_ticket(ticket, RelayTicket)
        broadcast = self.broadcasts.get(claims.target)
        if broadcast is None or broadcast.moved or self.state != SlaveState.LIVE:
            raise RequestError(ErrorCode.NOT_HERE, f"{claims.target} is not relayed from this slave; ask a master")
        stream = ViewerStream(f"relay:{claims.relay}", write, self.stats, self.reactor)
        broadcast.add_viewer(peer, stream)
        self.turbo.viewers_changed(broadcast)
        return broadcast, stream

    def detach_viewer(self, broadcast: Broadcast, peer: Peer) -> None:
        stream = broadcast.remove_viewer(peer)
        if stream is not None:
            if self.viewer_sessions.pop(stream.session, None) is not None:
                self.report(SessionRemove(SessionKind.VIEW, stream.user, stream.session))
                self.viewer_control.announce(broadcast, stream.user, joined=False)
                self.turbo.session_ended(broadcast, stream)
            self.turbo.viewers_changed(broadcast, left=peer)
            self.lifecycle.forget_if_left(broadcast)
            self.relays.viewers_changed(broadcast)

    # --- drain (C7) -------------------------------------------------------------------
    def start_drain(self, deadline: float | None = None, on_empty=None) -> None:
        """Start draining (``on_empty``: to exit, on SIGTERM). Asked again, it carries on;
        a later SIGTERM still gets its exit."""
        if self.drain is None:
            self.drain = Drain(self, deadline or self.config.drain_deadline, on_empty)
            self.drain.start()
        elif on_empty is not None:
            self.drain.exit_when_empty(on_empty)

    def undrain(self) -> None:
        if self.drain is not None and not self.drain.exiting:
            self.drain.cancel()
            self.drain = None

    # --- reports to the masters -------------------------------------------------------
    def report(self, message: Control) -> None:
        """Send a report if a master link is up; if not, the full table sent when the
        link comes back covers it."""
        if self.master is not None:
            self.master.report(message)

    def send_heartbeat(self) -> None:
        if self.master is not None:
            self.master.check_alive(self.config.master_timeout)
        if self.master is not None:
            self.master.send_heartbeat()
            self.heartbeats_sent += 1

    def send_table(self) -> None:
        if self.master is not None:
            self.master.send_table()

    def load(self) -> int:
        return len(self.broadcasts) + self.viewer_count()

    def viewer_count(self) -> int:
        return sum(len(b.viewers) for b in self.broadcasts.values())

    def heartbeat(self) -> Heartbeat:
        exiting = self.drain is not None and self.drain.exiting
        turbo = self.turbo
        return Heartbeat(
            self.load(),
            len(self.broadcasts),
            self.viewer_count(),
            self.state,
            exiting,
            turbo.on_peer(),
            turbo.bytes_saved,
            self.relays.links(),
        )

    def session_table(self) -> SessionTable:
        return SessionTable(
            tuple(BroadcastReport(b.user, b.session) for b in self.broadcasts.values() if not (b.moved or b.relayed)),
            tuple(v.report for v in self.viewer_sessions.values()),
        )
