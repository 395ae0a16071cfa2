"""Relaying a broadcast from another slave (C10; chaincast's receivers re-transmitting).

A master sends a viewer here with a ticket naming an ``upstream`` when this slave is to
relay the broadcast. The first such viewer starts a ``RelayPull``: a connection to the
upstream's client port (``relay_link``) whose frames go into a local ``Broadcast`` exactly
as an upload's do (``Broadcast.publish``), sequence number and capture time unchanged, and
reach the viewers here through the usual fan-out. The last viewer leaving stops it.

The pull watches its upstream (``UpstreamRate``). Too slow, or lost (closed, moved,
drained), it asks a master for another upstream over the master link and switches
make-before-break: the old link feeds the viewers until the new one is accepted, and
``publish`` drops what one link repeats of the other. If no master knows an upstream for
``give_up`` seconds (the broadcast ended without a word), the viewers are sent back
through the masters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from twisted.internet import task
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.logger import Logger

from common.addresses import parse_hostport
from common.messages.cluster import RelayLink
from common.messages.relay import RelayUpstream, RelayUpstreamRequest
from common.messages.streaming import ImageFrame, Reconnect
from common.tokens import NodeKeys, RelayTicket, ViewTicket
from slave.broadcast_life import Event
from slave.broadcasts import BroadcastTable
from slave.config import SlaveConfig
from slave.fanout import Broadcast, Frame
from slave.lifecycle import Lifecycle
from slave.relay_link import RelayLinkProtocol
from slave.uplink import Uplink
from slave.upstream_rate import UpstreamRate
from slave.viewer_control import set_paused
from slave.viewers import Viewers

CHECK_EVERY = 0.5  # seconds between looks at the upstream's rate
ASK_AGAIN = 1.0  # seconds before asking a master again (no answer, or no upstream yet)
ACCEPT_WITHIN = 3.0  # seconds a new upstream has to accept the relay before another is asked for


@dataclass(frozen=True)
class PullParts:
    """What every relay pull uses. ``peer_tls(host)``: the TLS client options for another
    slave, when the cluster's slaves serve TLS (None: plain TCP)."""

    reactor: Any  # IReactorTime and IReactorTCP
    signer: NodeKeys
    config: SlaveConfig
    uplink: Uplink
    lifecycle: Lifecycle
    viewers: Viewers
    peer_tls: Callable[[str], Any] | None = None


class RelayPull:
    log = Logger()

    def __init__(self, parts: PullParts, broadcast: Broadcast, on_switch: Callable[[], None]):
        self.parts = parts
        self.broadcast = broadcast
        self.on_switch = on_switch
        self.upstream = ""
        self.depth = 0
        self.link: RelayLinkProtocol | None = None
        self.pending: RelayLinkProtocol | None = None
        self.pending_since = 0.0
        self.rate = UpstreamRate()
        self.asked_at: float | None = None
        self.lost_since: float | None = None
        self.stopped = False
        self._check = task.LoopingCall(self.check)
        self._check.clock = parts.reactor

    def start(self, upstream: str, addr: str, depth: int) -> None:
        self.connect(upstream, addr, depth)
        self._check.start(CHECK_EVERY, now=False)

    def connect(self, upstream: str, addr: str, depth: int) -> None:
        parts = self.parts
        ticket = parts.signer.sign(RelayTicket(self.broadcast.user, upstream, parts.config.id))
        link = RelayLinkProtocol(self, upstream, ticket, parts.reactor)
        if self.pending is not None:
            self.pending.close()
        self.pending, self.depth = link, depth
        self.pending_since = parts.reactor.seconds()
        host, port = parse_hostport(addr)
        endpoint = HostnameEndpoint(parts.reactor, host, port, timeout=2)
        if parts.peer_tls is not None:  # the cluster's slaves serve TLS
            endpoint = wrapClientTLS(parts.peer_tls(host), endpoint)
        connectProtocol(endpoint, link).addErrback(lambda f: self.lost(link, f.getErrorMessage()))

    def accepted(self, link: RelayLinkProtocol) -> None:
        if link is not self.pending or self.stopped:
            link.close()
            return
        old, self.link, self.pending = self.link, link, None
        if old is not None:
            old.close()
            self.on_switch()
        self.upstream = link.upstream
        self.lost_since = self.asked_at = None
        self.rate.reset(self.parts.reactor.seconds())
        self.log.info("relaying {user} from {up} (depth {d})", user=self.broadcast.user, up=self.upstream, d=self.depth)

    def frame(self, link: RelayLinkProtocol, frame: ImageFrame) -> None:
        if link is self.link:
            self.rate.frame(self.parts.reactor.seconds(), frame.seq)
        self.broadcast.publish(Frame.from_body(frame.seq, frame.capture_time, frame.body))

    def paused(self, link: RelayLinkProtocol, paused: bool) -> None:
        if link is self.link and paused != self.broadcast.paused:
            set_paused(self.broadcast, paused)

    def ended(self, link: RelayLinkProtocol) -> None:
        """The broadcaster stopped: the broadcast ends here too."""
        if link in (self.link, self.pending):
            self.parts.lifecycle.end(self.broadcast, Event.UPSTREAM)

    def lost(self, link: RelayLinkProtocol, why: str) -> None:
        if self.stopped or link not in (self.link, self.pending):
            return
        link.close()
        if link is self.pending:
            self.pending = None
        else:
            self.link = None
        if self.link is None:
            self.lost_since = self.lost_since or self.parts.reactor.seconds()
        self.log.info("relay of {user}: {why}", user=self.broadcast.user, why=why)
        self.ask(avoid=link.upstream)

    def check(self) -> None:
        """Every CHECK_EVERY seconds: a slow upstream is replaced; a missing one asked for
        again; after ``give_up`` seconds without one the viewers go back to the masters."""
        now = self.parts.reactor.seconds()
        if self.pending is not None and now - self.pending_since > ACCEPT_WITHIN:
            self.lost(self.pending, "the new upstream did not accept in time")
        elif self.link is not None and self.pending is None and self.rate.slow(now):
            self.log.info("relay of {user}: upstream {up} too slow", user=self.broadcast.user, up=self.upstream)
            self.rate.reset(now)
            self.ask(avoid=self.upstream)
        elif self.link is None and self.pending is None:
            if self.lost_since is not None and now - self.lost_since > self.parts.config.grace:
                self.give_up()
            elif self.asked_at is None or now - self.asked_at > ASK_AGAIN:
                self.ask(avoid=self.upstream)

    def ask(self, avoid: str) -> None:
        self.asked_at = self.parts.reactor.seconds()
        self.parts.uplink.report(RelayUpstreamRequest(self.broadcast.user, avoid))

    def answered(self, answer: RelayUpstream) -> None:
        if self.stopped or not answer.slave or answer.slave == self.parts.config.id:
            return  # none now: check() asks again, or gives up
        if answer.slave == self.upstream and self.link is not None:
            return  # no better one: keep it (its rate window was reset)
        self.connect(answer.slave, answer.addr, answer.depth)

    def give_up(self) -> None:
        self.log.warn("relay of {user}: no upstream; viewers go back to the masters", user=self.broadcast.user)
        for peer in list(self.broadcast.viewers):
            peer.drop(Reconnect("lost the broadcast's upstream"))
            self.parts.viewers.detach(self.broadcast, peer)
        self.stop()

    def stop(self) -> None:
        self.stopped = True
        if self._check.running:
            self._check.stop()
        for link in (self.link, self.pending):
            if link is not None:
                link.close()
        self.link = self.pending = None


class Relays:
    """The broadcasts this slave relays (their pulls live in the table, by broadcaster)."""

    def __init__(self, table: BroadcastTable, parts: PullParts):
        self.table = table
        self.parts = parts
        self.switches = 0  # upstream switches of every pull

    def start(self, claims: ViewTicket) -> Broadcast:
        """A relay of ``claims.target``, pulled from the ticket's upstream (C10)."""
        broadcast = self.table.relay(claims.target, lambda b: RelayPull(self.parts, b, self._switched))
        self._pull(claims.target).start(claims.upstream, claims.upstream_addr, claims.depth)
        return broadcast

    def _switched(self) -> None:
        self.switches += 1

    def _pull(self, user: str) -> RelayPull | None:
        return cast("RelayPull | None", self.table.pull(user))  # the table holds only pulls made here

    def answered(self, answer: RelayUpstream) -> None:
        pull = self._pull(answer.target)
        if pull is not None:
            pull.answered(answer)

    def pulls(self) -> dict[str, RelayPull]:
        return cast("dict[str, RelayPull]", self.table.pulls())

    def links(self) -> tuple[RelayLink, ...]:
        return tuple(RelayLink(user, p.upstream) for user, p in sorted(self.pulls().items()) if p.upstream)

    def upstream_switches(self) -> int:
        return self.switches

    def max_depth(self) -> int:
        return max((p.depth for p in self.pulls().values()), default=0)
