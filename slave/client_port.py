"""The slave's client port: one connection is either a broadcaster, a viewer, or another
slave relaying a broadcast from here (C10)."""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Factory
from twisted.internet.tcp import Server
from zope.interface import implementer

from common.errors import ErrorCode, RequestError
from common.messages.relay import RelayStart
from common.messages.schema import Control
from common.messages.streaming import (
    Accepted,
    Ack,
    BroadcastMoved,
    BroadcastPause,
    BroadcastResume,
    BroadcastStart,
    BroadcastStop,
    ImageFrame,
    ViewerPause,
    ViewerResume,
    ViewStart,
)
from common.messages.turbo import TurboAllow, TurboBytes, TurboPath
from common.messaging import MessageProtocol, handles
from common.protocol import encode_ack, lone_ack
from common.socket_write import direct_writer
from common.throttle import Throttle, kbps_to_bytes
from slave.admission import Admission
from slave.broadcasts import BroadcastTable
from slave.config import SlaveConfig
from slave.fanout import Broadcast, FanoutStats, Frame, ViewerStream
from slave.lifecycle import Lifecycle
from slave.data_connection import DATA_HANDLERS, DataConnection
from slave.sealing import Sealing
from slave.turbo import TurboSwitch
from slave.viewer_control import set_paused
from slave.viewers import Viewers


@dataclass(frozen=True)
class ClientServices:
    """What the client port (and the HTTP port's viewers, ``slave.http_viewers``) use."""

    config: SlaveConfig
    stats: FanoutStats
    table: BroadcastTable
    admission: Admission
    lifecycle: Lifecycle
    viewers: Viewers
    turbo: TurboSwitch
    sealing: Sealing | None = None  # when the ports serve TLS: sealed frames for native viewers


@implementer(IPushProducer)
class SlaveClientProtocol(DataConnection, MessageProtocol):
    """Until it starts a broadcast or a view, a connection may only do one of those.

    The protocol is the push producer of its own transport: Twisted pauses it when the
    socket buffer fills and resumes it once drained. For a viewer that is the "fully
    written" half of graceful degradation (the viewer's ACK is the other half). Until a
    session starts, the connection has the guarded limits of ``MessageProtocol``.
    """

    handlers: dict = dict(DATA_HANDLERS)
    guarded = True
    abort_after = 5.0  # a dropped viewer may take this long to read why before it is cut

    def __init__(self, services: ClientServices, clock: IReactorTime):
        self.services = services
        self.clock = clock
        self.broadcast: Broadcast | None = None
        self.stream: ViewerStream | None = None
        self.upload_throttle: Throttle | None = None
        self.stopped = False
        self.ack_key: bytes | None = None  # a sealed viewer's: what its SEALED_ACKs are MACed with
        self.data: SlaveClientProtocol | None = None  # a sealed viewer's data connection
        self.data_for: SlaveClientProtocol | None = None  # on a data connection: whose it is

    # --- broadcaster ----------------------------------------------------------------
    @handles(handlers, BroadcastStart)
    def broadcast_start(self, start: BroadcastStart) -> None:
        self._require_new()
        config = self.services.config
        self.broadcast, turbo_key = self.services.admission.broadcast(start.ticket, self, self.transport.getPeer().host)
        self.authenticated()
        cap = kbps_to_bytes(config.max_upload_kbps)
        self.upload_throttle = Throttle(cap, samples=config.upload_window) if cap else None
        viewers = len(self.broadcast.viewers)
        self.send(Accepted(self.broadcast.user, config.addr, viewers=viewers, turbo_key=turbo_key))

    def _broadcasting(self) -> bool:
        return self.broadcast is not None and self.stream is None

    @handles(handlers, ImageFrame)
    def frame(self, frame: ImageFrame) -> None:
        if not self._broadcasting():
            raise RequestError(ErrorCode.NOT_BROADCASTING, "send BROADCAST_START before frames")
        self.transport.write(encode_ack(frame.seq))
        services = self.services
        if self.upload_throttle is not None and not self.upload_throttle.admit(self.clock.seconds(), len(frame.body)):
            services.stats.upload_dropped += 1
            return
        services.turbo.uploaded(self.broadcast)
        self.broadcast.publish(Frame.from_body(frame.seq, frame.capture_time, frame.body))

    @handles(handlers, BroadcastPause)
    def broadcast_pause(self, _: BroadcastPause) -> None:
        if self._broadcasting():
            set_paused(self.broadcast, True)

    @handles(handlers, BroadcastResume)
    def broadcast_resume(self, _: BroadcastResume) -> None:
        if self._broadcasting():
            set_paused(self.broadcast, False)

    @handles(handlers, BroadcastMoved)
    def broadcast_moved(self, _: BroadcastMoved) -> None:
        if self._broadcasting() and self.services.table.broadcaster(self.broadcast.user) is self:
            self.services.lifecycle.moved(self.broadcast)
            self.transport.loseConnection()

    @handles(handlers, BroadcastStop)
    def broadcast_stop(self, _: BroadcastStop) -> None:
        if self.broadcast is not None:
            self.stopped = True
            self.transport.loseConnection()

    @handles(handlers, TurboAllow)
    def turbo_allow(self, allow: TurboAllow) -> None:
        if self._broadcasting():
            self.services.turbo.allow(self.broadcast, allow.allowed)

    @handles(handlers, TurboBytes)
    def turbo_bytes(self, report: TurboBytes) -> None:
        if self._broadcasting():
            self.services.turbo.bytes_saved += report.bytes

    # --- viewer ---------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        """A viewer sends one ACK per frame (on a data connection, a SEALED_ACK); one arriving
        alone skips the general framer."""
        stream = self.stream
        if stream is not None and not self.decoder.buffered() and not self._held:
            seq = lone_ack(data)
            if seq is not None:
                stream.acknowledged(seq)
                return
        if not self._sealed_ack_alone(data):
            super().dataReceived(data)

    def _writer(self):
        """A TCP connection, plain or with the slave's TLS (``common.direct_tls``), skips
        Twisted's queue (``socket_write``); a WebSocket does the same inside its transport."""
        return direct_writer(self.transport) if isinstance(self.transport, Server) else self.transport.write

    @handles(handlers, RelayStart)
    def relay_start(self, start: RelayStart) -> None:
        """Another slave relays a broadcast from here (C10): it is a viewer to this slave."""
        self._require_new()
        self.broadcast, self.stream = self.services.admission.relay(start.ticket, self, self._writer())
        self.authenticated()
        self.send(Accepted(self.broadcast.user, self.services.config.addr, paused=self.broadcast.paused))
        self.broadcast.start_viewer(self.stream)

    @handles(handlers, ViewStart)
    def view_start(self, start: ViewStart) -> None:
        self._require_new()
        services = self.services
        sealed = start.sealed and services.sealing is not None and self._on_tls()
        write = _no_data_connection_yet if sealed else self._writer()
        self.broadcast, self.stream = services.admission.viewer(start.ticket, self, write)
        self.authenticated()
        broadcast = self.broadcast
        seal = services.sealing.offer(broadcast, self.stream, self) if sealed else None
        self.send(
            Accepted(
                broadcast.user, services.config.addr, cap_kbps=self.stream.cap_kbps, paused=broadcast.paused, seal=seal
            )
        )
        broadcast.start_viewer(self.stream)
        if sealed:
            services.stats.sealed_views += 1
            self._await_data()
        services.turbo.viewers_changed(broadcast)  # after ACCEPTED: an offer is the next thing a viewer hears

    @handles(handlers, ViewerPause)
    def viewer_pause(self, _: ViewerPause) -> None:
        if self.stream is not None:
            self.stream.set_paused(True)

    @handles(handlers, ViewerResume)
    def viewer_resume(self, _: ViewerResume) -> None:
        if self.stream is not None:
            self.stream.set_paused(False)

    @handles(handlers, TurboPath)
    def turbo_path(self, path: TurboPath) -> None:
        if self.stream is not None:
            self.services.turbo.path(self.broadcast, self, path.p2p)

    @handles(handlers, Ack)
    def ack(self, ack: Ack) -> None:
        if self.stream is not None:
            self.stream.acknowledged(ack.seq)

    def pauseProducing(self) -> None:
        stream = self._frames_stream()
        if stream is not None:
            stream.set_writable(False)
        else:
            super().pauseProducing()

    def resumeProducing(self) -> None:
        stream = self._frames_stream()
        if stream is not None:
            stream.set_writable(True)
        else:
            super().resumeProducing()

    # --- both -----------------------------------------------------------------------
    def _require_new(self) -> None:
        if self.broadcast is not None:
            raise RequestError(ErrorCode.ALREADY_STARTED, "this connection already carries a session")

    def drop(self, message: Control) -> None:
        """Tell the peer why, then close (used for ended broadcasts and replacements)."""
        self.send(message)
        self.transport.loseConnection()

    def connectionLost(self, reason) -> None:
        super().connectionLost(reason)
        self._data_lost()
        if self.broadcast is None:
            return
        if self.stream is not None:
            self.services.viewers.detach(self.broadcast, self)
        else:
            self.services.lifecycle.broadcaster_left(self.broadcast, self, clean=self.stopped)


def _no_data_connection_yet(wire: bytes) -> None:
    """A sealed viewer's stream is not writable until its data connection comes
    (``DataConnection.data_attached`` gives it that connection's writer)."""
    raise RuntimeError("a sealed frame written before the data connection came")


class SlaveClientFactory(Factory):
    def __init__(self, services: ClientServices, clock: IReactorTime):
        self.services = services
        self.clock = clock

    def buildProtocol(self, addr):
        return SlaveClientProtocol(self.services, self.clock)
