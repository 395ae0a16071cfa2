"""A relay's connection to its upstream slave (C10): it starts with RELAY_START and a relay
ticket, then behaves exactly as a viewer does (an ACK for every FRAME), so the upstream's
per-viewer flow control applies to it. What arrives is handed to the ``RelayPull``."""

from __future__ import annotations

from typing import Protocol

from twisted.internet.interfaces import IReactorTime

from common.messages.basic import Error
from common.messages.relay import RelayStart
from common.messages.streaming import Accepted, BroadcastEnded, BroadcastPaused, ImageFrame, Move, Reconnect
from common.messaging import MessageProtocol, handles
from common.protocol import encode_ack


class PullEvents(Protocol):
    """What a link tells its pull (``slave.relay.RelayPull``)."""

    def accepted(self, link: RelayLinkProtocol) -> None: ...

    def frame(self, link: RelayLinkProtocol, frame: ImageFrame) -> None: ...

    def paused(self, link: RelayLinkProtocol, paused: bool) -> None: ...

    def ended(self, link: RelayLinkProtocol) -> None: ...

    def lost(self, link: RelayLinkProtocol, why: str) -> None: ...


class RelayLinkProtocol(MessageProtocol):
    handlers: dict = {}

    def __init__(self, pull: PullEvents, upstream: str, ticket: str, clock: IReactorTime):
        self.pull = pull
        self.clock = clock
        self.upstream = upstream
        self.ticket = ticket
        self.closing = False

    def connectionMade(self) -> None:
        super().connectionMade()
        self.send(RelayStart(self.ticket))

    def close(self) -> None:
        """Leave this upstream (stopped, or switched away): not a loss."""
        self.closing = True
        if self.transport is not None:  # None: the connection never came up
            self.transport.loseConnection()

    @handles(handlers, Accepted)
    def accepted(self, _: Accepted) -> None:
        self.pull.accepted(self)

    @handles(handlers, ImageFrame)
    def frame(self, frame: ImageFrame) -> None:
        self.transport.write(encode_ack(frame.seq))
        self.pull.frame(self, frame)

    @handles(handlers, BroadcastPaused)
    def broadcast_paused(self, message: BroadcastPaused) -> None:
        self.pull.paused(self, message.paused)

    @handles(handlers, BroadcastEnded)
    def ended(self, _: BroadcastEnded) -> None:
        self.pull.ended(self)

    @handles(handlers, Move)
    def move(self, message: Move) -> None:
        self.pull.lost(self, message.reason or "the upstream moved the broadcast")

    @handles(handlers, Reconnect)
    def reconnect(self, message: Reconnect) -> None:
        self.pull.lost(self, message.reason or "the upstream sent us away")

    @handles(handlers, Error)
    def error(self, error: Error) -> None:
        self.pull.lost(self, f"the upstream refused: {error.message}")

    def connectionLost(self, reason) -> None:
        super().connectionLost(reason)
        if not self.closing:
            self.pull.lost(self, "lost the connection to the upstream")
