"""The slave's client port: one connection is either a broadcaster or a viewer."""

from __future__ import annotations

from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Factory
from zope.interface import implementer

from common.messaging import MessageProtocol, RequestError, handles
from common.protocol import (
    ACK_BODY,
    ACK_HEADER,
    ACK_SIZE,
    FRAME_HEADER,
    HEADER,
    Message,
    MessageType as T,
    ProtocolError,
    decode_ack,
    encode_ack,
)
from common.throttle import Throttle, kbps_to_bytes
from slave.fanout import Broadcast, Frame, ViewerStream
from slave.socket_write import direct_writer
from slave.service import Slave


ABORT_AFTER = 5.0  # seconds a closing connection may take to flush before it is cut


@implementer(IPushProducer)
class SlaveClientProtocol(MessageProtocol):
    """Until it starts a broadcast or a view, a connection may only do one of those.

    As a viewer, the protocol is the push producer of its own transport: Twisted pauses it
    when the socket buffer fills and resumes it once drained, which is the "fully written"
    half of graceful degradation; the viewer's ACK is the other half.
    """

    handlers: dict = {}

    def __init__(self, slave: Slave):
        self.slave = slave
        self.broadcast: Broadcast | None = None
        self.stream: ViewerStream | None = None
        self.upload_throttle: Throttle | None = None
        self.stopped = False

    # --- broadcaster ----------------------------------------------------------------
    @handles(handlers, T.BROADCAST_START)
    def broadcast_start(self, message: Message) -> None:
        self._require_new()
        self.broadcast = self.slave.start_broadcast(message.json().get("ticket"), self)
        cap = kbps_to_bytes(self.slave.config.max_upload_kbps)
        self.upload_throttle = Throttle(cap, samples=self.slave.config.upload_window) if cap else None
        self.send_json(
            T.ACCEPTED, user=self.broadcast.user, slave=self.slave.config.addr, viewers=len(self.broadcast.viewers)
        )

    @handles(handlers, T.FRAME)
    def frame(self, message: Message) -> None:
        if self.broadcast is None or self.stream is not None:
            raise RequestError("not_broadcasting", "send BROADCAST_START before frames")
        body = message.body
        if len(body) < FRAME_HEADER.size:
            raise ProtocolError("bad_frame", "frame body is shorter than its header")
        seq, capture_time = FRAME_HEADER.unpack_from(body)[:2]
        self.transport.write(encode_ack(seq))
        if self.upload_throttle is not None and not self.upload_throttle.admit(self.slave.reactor.seconds(), len(body)):
            self.slave.stats.upload_dropped += 1
            return
        self.broadcast.publish(Frame.from_body(seq, capture_time, body))

    @handles(handlers, T.BROADCAST_PAUSE)
    def broadcast_pause(self, message: Message) -> None:
        if self.broadcast is not None and self.stream is None:
            self.slave.set_broadcast_paused(self.broadcast, True)

    @handles(handlers, T.BROADCAST_RESUME)
    def broadcast_resume(self, message: Message) -> None:
        if self.broadcast is not None and self.stream is None:
            self.slave.set_broadcast_paused(self.broadcast, False)

    @handles(handlers, T.BROADCAST_MOVED)
    def broadcast_moved(self, message: Message) -> None:
        if (
            self.broadcast is not None
            and self.stream is None
            and self.slave.broadcasters.get(self.broadcast.user) is self
        ):
            self.slave.broadcast_moved(self.broadcast)
            self.transport.loseConnection()

    @handles(handlers, T.BROADCAST_STOP)
    def broadcast_stop(self, message: Message) -> None:
        if self.broadcast is not None:
            self.stopped = True
            self.transport.loseConnection()

    # --- viewer ---------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        """A viewer sends one ACK per frame; one arriving alone skips the general framer."""
        stream = self.stream
        if (
            stream is not None
            and len(data) == ACK_SIZE
            and data[: HEADER.size] == ACK_HEADER
            and not self.decoder.buffered()
        ):
            stream.acknowledged(ACK_BODY.unpack_from(data, HEADER.size)[0])
            return
        super().dataReceived(data)

    @handles(handlers, T.VIEW_START)
    def view_start(self, message: Message) -> None:
        self._require_new()
        write = direct_writer(self.transport) if hasattr(self.transport, "socket") else self.transport.write
        self.broadcast, self.stream = self.slave.attach_viewer(message.json().get("ticket"), self, write)
        self.transport.registerProducer(self, True)
        self.send_json(
            T.ACCEPTED,
            user=self.broadcast.user,
            slave=self.slave.config.addr,
            cap_kbps=self.stream.cap_kbps,
            paused=self.broadcast.paused,
        )
        self.broadcast.start_viewer(self.stream)

    @handles(handlers, T.VIEWER_PAUSE)
    def viewer_pause(self, message: Message) -> None:
        if self.stream is not None:
            self.stream.set_paused(True)

    @handles(handlers, T.VIEWER_RESUME)
    def viewer_resume(self, message: Message) -> None:
        if self.stream is not None:
            self.stream.set_paused(False)

    @handles(handlers, T.ACK)
    def ack(self, message: Message) -> None:
        if self.stream is not None:
            self.stream.acknowledged(decode_ack(message.body))

    def pauseProducing(self) -> None:
        if self.stream is not None:
            self.stream.set_writable(False)

    def resumeProducing(self) -> None:
        if self.stream is not None:
            self.stream.set_writable(True)

    def stopProducing(self) -> None:
        pass

    # --- both -----------------------------------------------------------------------
    def _require_new(self) -> None:
        if self.broadcast is not None:
            raise RequestError("already_started", "this connection already carries a session")

    def drop(self, msg_type: int, **fields: object) -> None:
        """Tell the peer why, then close (used for ended broadcasts and replacements)."""
        self.send_json(msg_type, **fields)
        self.transport.loseConnection()

    def send_error_and_close(self, code: str, message: str) -> None:
        """Say why and close; if the peer does not read even that, cut the connection."""
        self.send_error(code, message)
        self.transport.loseConnection()
        self.slave.reactor.callLater(ABORT_AFTER, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if self.connected:
            self.transport.abortConnection()

    def connectionLost(self, reason) -> None:
        if self.broadcast is None:
            return
        if self.stream is not None:
            self.slave.detach_viewer(self.broadcast, self)
        else:
            self.slave.broadcaster_left(self.broadcast, self, clean=self.stopped)


class SlaveClientFactory(Factory):
    def __init__(self, slave: Slave):
        self.slave = slave

    def buildProtocol(self, addr):
        return SlaveClientProtocol(self.slave)
