"""The slave's dedicated connection to a master (feature C4), with failover.

``ClientService`` keeps one connection up, retrying with jittered exponential backoff;
``FailoverEndpoint`` makes each attempt go to the next master in the list, so when the
master in use dies the slave reconnects to another one. On every (re)connection the slave
introduces itself and sends its complete session table, so a master that just started, or
a Redis that just lost its data, learns every session at once.
"""

from __future__ import annotations

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.protocol import Factory

from common.messaging import MessageProtocol, handles
from common.protocol import Message, MessageType as T
from slave.service import Slave


class FailoverEndpoint:
    """A client endpoint that tries the given addresses in turn, one per connect()."""

    def __init__(self, reactor, addresses: list[tuple[str, int]], timeout: float = 2.0):
        self._endpoints = [HostnameEndpoint(reactor, host, port, timeout=timeout) for host, port in addresses]
        self._next = 0

    def connect(self, factory):
        endpoint = self._endpoints[self._next % len(self._endpoints)]
        self._next += 1
        return endpoint.connect(factory)


class MasterLinkProtocol(MessageProtocol):
    handlers: dict = {}

    def __init__(self, slave: Slave):
        self.slave = slave
        self.last_heard = slave.reactor.seconds()

    def dataReceived(self, data: bytes) -> None:
        self.last_heard = self.slave.reactor.seconds()
        super().dataReceived(data)

    def check_alive(self, timeout: float) -> None:
        """Drop a link the master stopped answering (its host vanished without closing the
        connection); ClientService then connects to the next master."""
        if self.slave.reactor.seconds() - self.last_heard > timeout:
            self.log.warn(
                "master at {peer} silent for {t:g} s; switching masters", peer=self.transport.getPeer(), t=timeout
            )
            self.transport.abortConnection()

    def connectionMade(self) -> None:
        super().connectionMade()
        config = self.slave.config
        self.send_json(
            T.SLAVE_HELLO,
            id=config.id,
            addr=config.addr,
            metrics=config.metrics_addr,
            container=config.container,
            proof=self.slave.signer.slave_proof(config.id),
        )
        self.send_heartbeat()
        self.send_table()
        self.slave.master = self
        self.log.info("connected to master at {peer}", peer=self.transport.getPeer())

    def connectionLost(self, reason) -> None:
        if self.slave.master is self:
            self.slave.master = None

    def report(self, msg_type: int, **fields: object) -> None:
        self.send_json(msg_type, **fields)

    def send_heartbeat(self) -> None:
        self.send_json(T.HEARTBEAT, **self.slave.heartbeat())

    def send_table(self) -> None:
        self.send_json(T.SESSION_TABLE, **self.slave.session_table())

    @handles(handlers, T.TABLE_REQUEST)
    def table_request(self, message: Message) -> None:
        self.send_table()

    @handles(handlers, T.HEARTBEAT)
    def heartbeat_echo(self, message: Message) -> None:
        pass  # arriving at all is the point (dataReceived noted the time)

    @handles(handlers, T.SET_CAP)
    def set_cap(self, message: Message) -> None:
        fields = message.json()
        self.slave.set_viewer_cap(str(fields.get("session")), fields.get("cap_kbps"))

    @handles(handlers, T.DRAIN)
    def drain(self, message: Message) -> None:
        deadline = message.json().get("deadline")
        self.slave.start_drain(float(deadline) if deadline else None)

    @handles(handlers, T.UNDRAIN)
    def undrain(self, message: Message) -> None:
        self.slave.undrain()

    @handles(handlers, T.MIGRATE_BROADCAST)
    def migrate_broadcast(self, message: Message) -> None:
        self.slave.migrate_broadcast(str(message.json().get("user")), "rebalancing the cluster")

    @handles(handlers, T.BROADCAST_ELSEWHERE)
    def broadcast_elsewhere(self, message: Message) -> None:
        fields = message.json()
        self.slave.broadcast_elsewhere(str(fields.get("user")), str(fields.get("session")))

    @handles(handlers, T.ERROR)
    def error(self, message: Message) -> None:
        self.log.error("master refused this slave: {error}", error=message.json().get("message"))


def master_link_service(reactor, slave: Slave, masters: list[tuple[str, int]]) -> ClientService:
    factory = Factory.forProtocol(lambda: MasterLinkProtocol(slave))
    return ClientService(
        FailoverEndpoint(reactor, masters),
        factory,
        retryPolicy=backoffPolicy(initialDelay=0.2, maxDelay=2.0),
        clock=reactor,
    )
