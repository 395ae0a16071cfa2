"""The master's dedicated port for slaves: hello, heartbeats and session reports (C4), and
relays asking where to pull a broadcast from (C10)."""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory

from common.errors import ErrorCode, ProtocolError
from common.messages.admission import ViewersReport
from common.messages.cluster import (
    Heartbeat,
    HeartbeatEcho,
    SessionAdd,
    SessionRemove,
    SessionTable,
    SlaveHello,
)
from common.messages.relay import RelayUpstreamRequest
from common.messaging import PRE_AUTH_MAX_BODY, MessageProtocol, handles
from common.protocol import Decoder, Message, MessageType
from master.services.registry import Registry
from master.services.relays import Relays
from master.services.slave_links import SlaveLinks


@dataclass(frozen=True)
class SlaveServices:
    """The services a slave's link goes to."""

    links: SlaveLinks  # who is linked here, admitting them, and answers to questions
    registry: Registry  # heartbeats and session reports
    relays: Relays  # where a relay pulls from


class HelloFirstDecoder(Decoder):
    """A slave link's framer: the first message, which must be the hello, gets the pre-login
    size; the messages after a hello the full size, also those that arrived with it (a slave
    sends its session table right behind its hello)."""

    def __init__(self, max_body: int):
        super().__init__(PRE_AUTH_MAX_BODY)
        self.full_body = max_body

    def feed(self, data: bytes):
        for message in super().feed(data):
            if message.type == MessageType.SLAVE_HELLO:
                self.max_body = self.full_body
            yield message


class SlaveLinkProtocol(MessageProtocol):
    """One slave's connection. Nothing but SLAVE_HELLO is accepted before the slave proves
    it holds the slave key; until then the link has the guarded limits of the client
    ports (``MessageProtocol``): a small hello, within ``AUTH_TIMEOUT`` seconds."""

    handlers: dict = {}
    guarded = True

    def __init__(self, services: SlaveServices, clock: IReactorTime):
        self.services = services
        self.clock = clock
        self.slave_id = ""
        self.hello: SlaveHello | None = None
        self._in_order: Deferred = succeed(None)
        self.last_heard = clock.seconds()

    def connectionMade(self) -> None:
        super().connectionMade()
        self.decoder = HelloFirstDecoder(self.max_body)

    def dataReceived(self, data: bytes) -> None:
        self.last_heard = self.clock.seconds()
        super().dataReceived(data)

    def dispatch(self, message: Message) -> None:
        """Reports are stored strictly in the order the slave sent them (a session removed
        just after a complete table must stay removed), one after another."""
        if self.hello is None and message.type != MessageType.SLAVE_HELLO:
            self.reject(ErrorCode.HELLO_FIRST, "a slave must send SLAVE_HELLO first")
            return
        self._in_order.addCallback(lambda _: MessageProtocol.dispatch(self, message))

    @handles(handlers, SlaveHello)
    def hello_received(self, hello: SlaveHello) -> None:
        self.services.links.admit(hello)
        self.slave_id, self.hello = hello.id, hello
        self.authenticated()
        self.services.links.joined(self)
        self.log.info("slave {slave} at {addr} joined", slave=hello.id, addr=hello.addr)

    @handles(handlers, Heartbeat)
    async def heartbeat(self, beat: Heartbeat) -> None:
        self.send(HeartbeatEcho())  # by which the slave knows this link is alive
        await self.services.registry.heartbeat(self, beat)

    @handles(handlers, SessionAdd)
    async def session_add(self, report: SessionAdd) -> None:
        await self.services.registry.session_added(self, report)

    @handles(handlers, SessionRemove)
    async def session_remove(self, report: SessionRemove) -> None:
        await self.services.registry.session_removed(self, report)

    @handles(handlers, SessionTable)
    async def session_table(self, table: SessionTable) -> None:
        await self.services.registry.session_table(self, table)

    @handles(handlers, RelayUpstreamRequest)
    async def relay_upstream(self, request: RelayUpstreamRequest) -> None:
        self.send(await self.services.relays.upstream(self.slave_id, request.target, request.avoid))

    @handles(handlers, ViewersReport)
    async def viewers_report(self, report: ViewersReport) -> None:
        await self.services.links.answered(report)

    def abort(self) -> None:
        self.transport.abortConnection()

    def request_failed(self, failure) -> None:
        # Slaves do not wait for answers to reports; log and carry on (Redis may be away).
        if failure.check(ProtocolError):
            super().request_failed(failure)
            return
        self.log.warn("slave report from {slave} not stored: {err}", slave=self.slave_id, err=failure.getErrorMessage())

    def connectionLost(self, reason) -> None:
        super().connectionLost(reason)
        if self.hello is not None:
            self.services.links.left(self)


class SlaveLinkFactory(Factory):
    def __init__(self, services: SlaveServices, reactor: IReactorTime):
        self.services = services
        self.reactor = reactor

    def buildProtocol(self, addr):
        return SlaveLinkProtocol(self.services, self.reactor)
