"""The slave's dedicated connection to a master (feature C4), with failover.

``ClientService`` keeps one connection up, retrying with jittered exponential backoff;
``FailoverEndpoint`` makes each attempt go to the next master in the list, so when the
master in use dies the slave reconnects to another one. On every (re)connection the slave
introduces itself and sends its complete session table, so a master that just started, or
a Redis that just lost its data, learns every session at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory

from common.messages.admission import ThrowViewer, ViewersQuery
from common.messages.basic import Error
from common.messages.cluster import (
    BroadcastElsewhere,
    Drain,
    HeartbeatEcho,
    MigrateBroadcast,
    SetCap,
    SlaveHello,
    TableRequest,
    Undrain,
)
from common.messages.relay import RelayUpstream
from common.messages.schema import Control
from common.messaging import MessageProtocol, handles
from common.tokens import NodeKeys, SlaveProof
from slave.config import SlaveConfig
from slave.drain import Draining
from slave.lifecycle import Lifecycle
from slave.relay import Relays
from slave.reports import Reporter
from slave.uplink import Uplink
from slave.viewer_control import ViewerControl


class FailoverEndpoint:
    """A client endpoint that tries the given addresses in turn, one per connect()."""

    def __init__(self, reactor, addresses: list[tuple[str, int]], timeout: float = 2.0, tls=None):
        """``tls(host)``: the TLS client options verifying that master (None: plain TCP)."""
        self._endpoints = [HostnameEndpoint(reactor, host, port, timeout=timeout) for host, port in addresses]
        if tls is not None:
            self._endpoints = [wrapClientTLS(tls(host), e) for (host, _), e in zip(addresses, self._endpoints)]
        self._next = 0

    def connect(self, factory):
        endpoint = self._endpoints[self._next % len(self._endpoints)]
        self._next += 1
        return endpoint.connect(factory)


@dataclass(frozen=True)
class MasterLinkServices:
    """What a master link introduces the slave with, and where the masters' commands go."""

    config: SlaveConfig
    signer: NodeKeys
    uplink: Uplink
    reporter: Reporter
    viewer_control: ViewerControl
    draining: Draining
    lifecycle: Lifecycle
    relays: Relays


class MasterLinkProtocol(MessageProtocol):
    handlers: dict = {}

    def __init__(self, services: MasterLinkServices, clock: IReactorTime):
        self.services = services
        self.clock = clock
        self.last_heard = clock.seconds()

    def dataReceived(self, data: bytes) -> None:
        self.last_heard = self.clock.seconds()
        super().dataReceived(data)

    def check_alive(self, timeout: float) -> None:
        """Drop a link the master stopped answering (its host vanished without closing the
        connection); ClientService then connects to the next master."""
        if self.clock.seconds() - self.last_heard > timeout:
            self.log.warn(
                "master at {peer} silent for {t:g} s; switching masters", peer=self.transport.getPeer(), t=timeout
            )
            self.transport.abortConnection()

    def connectionMade(self) -> None:
        super().connectionMade()
        services = self.services
        config = services.config
        proof = services.signer.sign(SlaveProof(config.id))
        self.send(SlaveHello(config.id, config.addr, proof, config.metrics_addr, config.container, config.web_addr))
        self.send(services.reporter.heartbeat())
        self.send(services.reporter.session_table())
        services.uplink.link = self
        self.log.info("connected to master at {peer}", peer=self.transport.getPeer())

    def connectionLost(self, reason) -> None:
        super().connectionLost(reason)
        if self.services.uplink.link is self:
            self.services.uplink.link = None

    def report(self, message: Control) -> None:
        self.send(message)

    @handles(handlers, TableRequest)
    def table_request(self, _: TableRequest) -> None:
        self.send(self.services.reporter.session_table())

    @handles(handlers, HeartbeatEcho)
    def heartbeat_echo(self, _: HeartbeatEcho) -> None:
        pass  # arriving at all is the point (dataReceived noted the time)

    @handles(handlers, SetCap)
    def set_cap(self, command: SetCap) -> None:
        self.services.viewer_control.set_cap(command.session, command.cap_kbps)

    @handles(handlers, Drain)
    def drain(self, command: Drain) -> None:
        self.services.draining.start(command.deadline)

    @handles(handlers, Undrain)
    def undrain(self, _: Undrain) -> None:
        self.services.draining.undrain()

    @handles(handlers, MigrateBroadcast)
    def migrate_broadcast(self, command: MigrateBroadcast) -> None:
        self.services.lifecycle.migrate(command.user, "rebalancing the cluster")

    @handles(handlers, BroadcastElsewhere)
    def broadcast_elsewhere(self, command: BroadcastElsewhere) -> None:
        self.services.lifecycle.elsewhere(command.user, command.session)

    @handles(handlers, ThrowViewer)
    def throw_viewer(self, command: ThrowViewer) -> None:
        self.services.viewer_control.throw(command.target, command.viewer, command.until)

    @handles(handlers, ViewersQuery)
    def viewers_query(self, query: ViewersQuery) -> None:
        self.send(self.services.viewer_control.report(query))

    @handles(handlers, RelayUpstream)
    def relay_upstream(self, answer: RelayUpstream) -> None:
        self.services.relays.answered(answer)

    @handles(handlers, Error)
    def error(self, error: Error) -> None:
        self.log.error("master refused this slave: {error}", error=error.message)


def master_link_service(
    reactor, services: MasterLinkServices, masters: list[tuple[str, int]], tls=None
) -> ClientService:
    factory = Factory.forProtocol(lambda: MasterLinkProtocol(services, reactor))
    return ClientService(
        FailoverEndpoint(reactor, masters, tls=tls),
        factory,
        retryPolicy=backoffPolicy(initialDelay=0.2, maxDelay=2.0),
        clock=reactor,
    )
