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
from common.frame_seal import SEALED_ACK_BODY, check_sealed_ack, lone_sealed_ack
from common.messages.sealing import DataAttach, SealedAck
from common.protocol import Message, MessageType
from common.socket_write import direct_writer
from common.throttle import Throttle, kbps_to_bytes
from slave.admission import Admission
from slave.broadcasts import BroadcastTable
from slave.config import SlaveConfig
from slave.fanout import Broadcast, FanoutStats, Frame, ViewerStream
from slave.lifecycle import Lifecycle
from slave.sealing import TOKEN_LIFETIME, Sealing
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
class SlaveClientProtocol(MessageProtocol):
    """Until it starts a broadcast or a view, a connection may only do one of those.

    The protocol is the push producer of its own transport: Twisted pauses it when the
    socket buffer fills and resumes it once drained. For a viewer that is the "fully
    written" half of graceful degradation (the viewer's ACK is the other half). Until a
    session starts, the connection has the guarded limits of ``MessageProtocol``.
    """

    handlers: dict = {}
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
        self._data_write = None

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
        viewer = self.data_for
        if viewer is not None and viewer.stream is not None and not self.decoder.buffered() and not self._held:
            seq = lone_sealed_ack(viewer.ack_key, data)
            if seq is not None:
                viewer.stream.acknowledged(seq)
                return
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
        write = self._write_data if sealed else self._writer()
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
            self.clock.callLater(TOKEN_LIFETIME, self._data_overdue)
        services.turbo.viewers_changed(broadcast)  # after ACCEPTED: an offer is the next thing a viewer hears

    # --- a sealed viewer's data connection ---------------------------------------------
    def _on_tls(self) -> bool:
        return getattr(self.transport, "secure", None) is True

    def _data_only(self) -> bool:
        """A plain connection to a TLS port (``DirectTLSServer.secure``): only a sealed
        viewer's data connection. A WebSocket's transport says neither."""
        return getattr(self.transport, "secure", None) is False

    def dispatch(self, message: Message):
        if self._data_only() and message.type not in (MessageType.DATA_ATTACH, MessageType.SEALED_ACK):
            self.reject(ErrorCode.TLS_REQUIRED, "this port takes TLS (leave out --insecure); only DATA_ATTACH is plain")
            return None
        return super().dispatch(message)

    @handles(handlers, DataAttach)
    def data_attach(self, attach: DataAttach) -> None:
        if not self._data_only() or self.data_for is not None or self.services.sealing is None:
            raise RequestError(ErrorCode.BAD_REQUEST, "DATA_ATTACH is for a plain connection to a TLS slave")
        viewer = self.services.sealing.claim(attach.token)
        self.data_for = viewer
        self.authenticated()
        self.decoder.max_body = SEALED_ACK_BODY  # all it says from now on
        viewer.data_attached(self)

    def data_attached(self, data: "SlaveClientProtocol") -> None:
        """Frames go out on ``data`` now, starting with the newest."""
        if self.stream is None or not self.connected:
            data.transport.loseConnection()
            return
        self.data = data
        self._data_write = data._writer()
        self.stream.set_writable(True)

    def _data_overdue(self) -> None:
        if self.data is None and self.connected and not self.transport.disconnecting:
            self.reject(ErrorCode.TIMEOUT, f"no data connection within {TOKEN_LIFETIME:g} s; start the view again")

    def _write_data(self, wire: bytes) -> None:
        self._data_write(wire)

    @handles(handlers, SealedAck)
    def sealed_ack(self, ack: SealedAck) -> None:
        viewer = self.data_for
        if viewer is None:
            raise RequestError(ErrorCode.BAD_ACK, "SEALED_ACK before DATA_ATTACH")
        seq = check_sealed_ack(viewer.ack_key, ack.body)
        if seq is None:
            self.reject(ErrorCode.BAD_ACK, "an acknowledgement with a wrong MAC")
        elif viewer.stream is not None:
            viewer.stream.acknowledged(seq)

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

    def _frames_stream(self) -> ViewerStream | None:
        """The stream whose frames this connection's transport carries, if any."""
        if self.data_for is not None:
            return self.data_for.stream
        return None if self.ack_key is not None else self.stream

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


    def _data_lost(self) -> None:
        """A sealed viewer's two connections end together, whichever closes first."""
        if self.data_for is not None:
            self.data_for.transport.loseConnection()
        elif self.data is not None:
            self.data.transport.loseConnection()
        elif self.ack_key is not None:
            self.services.sealing.forget(self)


class SlaveClientFactory(Factory):
    def __init__(self, services: ClientServices, clock: IReactorTime):
        self.services = services
        self.clock = clock

    def buildProtocol(self, addr):
        return SlaveClientProtocol(self.services, self.clock)
