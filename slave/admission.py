"""Who may start what on this slave: every connection shows a ticket a master signed for
this very slave (so the slave needs no round trip to know a master placed it here), and
each broadcast or view ticket opens one connection (``use_once``): a viewer that comes back
asks a master again. Past the ticket, a broadcast goes to ``slave.lifecycle`` and a viewer
to ``slave.viewers``; the first viewer of a relay starts its pull (``slave.relay``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.internet.interfaces import IReactorTime

from common.errors import ErrorCode, RequestError
from common.signing import Credential, CredentialError
from common.tokens import BroadcastTicket, NodeKeys, RelayTicket, ViewTicket
from slave.bans import Bans
from slave.broadcasts import BroadcastTable
from slave.config import SlaveConfig
from slave.fanout import Broadcast, ViewerStream
from slave.lifecycle import Lifecycle
from slave.peer import Peer
from slave.relay import Relays
from slave.status import SlaveStatus
from slave.viewers import Viewers

T = TypeVar("T", bound=Credential)
Write = Callable[[bytes], None]


class Admission:
    def __init__(
        self,
        signer: NodeKeys,
        config: SlaveConfig,
        table: BroadcastTable,
        status: SlaveStatus,
        lifecycle: Lifecycle,
        viewers: Viewers,
        relays: Relays,
        bans: Bans,
        reactor: IReactorTime,
    ):
        self.signer = signer
        self.config = config
        self.table = table
        self.status = status
        self.lifecycle = lifecycle
        self.viewers = viewers
        self.relays = relays
        self.bans = bans
        self.reactor = reactor
        self.used_nonces: dict[str, float] = {}  # of broadcast and view tickets, until they expire

    def check_ticket(self, ticket: str, kind: type[T]) -> T:
        try:
            claims = self.signer.check(ticket, kind, self.reactor.seconds())
        except CredentialError as exc:
            raise RequestError(ErrorCode.BAD_TICKET, str(exc)) from None
        if claims.slave != self.config.id:
            raise RequestError(ErrorCode.WRONG_SLAVE, "this ticket was issued for another slave; ask a master again")
        return claims

    def use_once(self, nonce: str, kind: type[Credential] = ViewTicket) -> None:
        """A broadcast or view ticket opens one connection (a snapshot ticket, one image): its
        nonce (a view ticket's: its viewer session) is kept for as long as it could pass a check."""
        now = self.reactor.seconds()
        if len(self.used_nonces) > 1000:
            self.used_nonces = {n: until for n, until in self.used_nonces.items() if until > now}
        if not nonce or self.used_nonces.get(nonce, 0.0) > now:
            raise RequestError(ErrorCode.BAD_TICKET, "this ticket was already used; ask a master again")
        self.used_nonces[nonce] = now + self.signer.kept_for(kind)

    def broadcast(self, ticket: str, peer: Peer, host: str) -> tuple[Broadcast, str | None]:
        """Take a broadcast from ``host``: the broadcast, and its turbo key if it has turbo mode."""
        claims = self.check_ticket(ticket, BroadcastTicket)
        self.use_once(claims.nonce, BroadcastTicket)
        if not self.status.live:
            raise RequestError(ErrorCode.DRAINING, "this slave is draining; ask a master again")
        return self.lifecycle.start(claims, peer, host)

    def viewer(self, ticket: str, peer: Peer, write: Write) -> tuple[Broadcast, ViewerStream]:
        claims = self.check_ticket(ticket, ViewTicket)
        self.use_once(claims.session)
        broadcast = self.table.get(claims.target)
        if broadcast is None and claims.upstream and self.status.live:
            broadcast = self.relays.start(claims)  # the first viewer of a relay here (C10)
        if broadcast is None or not broadcast.life.serves:
            raise RequestError(
                ErrorCode.NOT_HERE, f"{claims.target} is not broadcasting on this slave; ask a master again"
            )
        self.bans.check(broadcast.user, claims.user)
        return broadcast, self.viewers.attach(broadcast, claims, peer, write)

    def relay(self, ticket: str, peer: Peer, write: Write) -> tuple[Broadcast, ViewerStream]:
        """Another slave pulls a broadcast from here to relay it (C10)."""
        claims = self.check_ticket(ticket, RelayTicket)
        broadcast = self.table.serving(claims.target)
        if broadcast is None or not self.status.live:
            raise RequestError(ErrorCode.NOT_HERE, f"{claims.target} is not relayed from this slave; ask a master")
        return broadcast, self.viewers.attach_relay(broadcast, claims.relay, peer, write)

    def snapshot(self, ticket: str) -> Broadcast:
        """The broadcast whose newest image a snapshot ticket may have, once."""
        claims = self.check_ticket(ticket, ViewTicket)
        self.use_once(claims.session)
        self.bans.check(claims.target, claims.user)
        broadcast = self.table.get(claims.target)
        if broadcast is None or broadcast.latest is None:
            raise RequestError(ErrorCode.NOT_HERE, f"no image of {claims.target} here yet")
        return broadcast
