"""The framecast protocol over a WebSocket, for browsers (feature O5).

A browser cannot open a TCP connection, so a page speaks exactly the framecast protocol of
``common.protocol`` inside WebSocket binary messages: the bytes of one or more framecast
messages (or a part of one) per WebSocket message, in order. On the server the very same
protocol class the TCP port uses (``MasterClientProtocol``, ``SlaveClientProtocol``) runs
on a ``FramecastOverWebSocket`` connection, which gives it the transport it expects: its
writes become binary messages, its back-pressure is the TCP socket's, and a viewer in a
browser gets the same one-frame-in-flight flow control as the CLI viewer.

The limits are the wrapped protocol's: autobahn holds a whole WebSocket message before
handing it over, so a message may be no larger than the message body the protocol takes
now (the pre-login size until it knows who the client is), and the guarded protocol's
login deadline and one-request rule apply inside. An upgrade from a page of another site
is refused (``common.web_origins``), and no refusal repeats what the request said.
"""

from __future__ import annotations

from collections.abc import Iterable

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer, ITransport
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.tcp import Server
from twisted.python.failure import Failure
from zope.interface import implementer

from common.messaging import PRE_AUTH_MAX_BODY
from common.socket_write import direct_writer
from common.web_origins import origin_allowed

SUBPROTOCOL = "framecast"
WIRE_HEADER = 10  # a framecast message header (common.protocol.HEADER)
REFUSED_HANDSHAKE = {
    400: "bad WebSocket handshake",
    403: "pages of other sites may not open this WebSocket",
}


@implementer(ITransport, IPushProducer)
class _ProtocolTransport:
    """What the wrapped framecast protocol sees as its transport."""

    def __init__(self, websocket: "FramecastOverWebSocket"):
        self.websocket = websocket

    @property
    def _tcp(self):
        return self.websocket.transport

    @property
    def disconnecting(self) -> bool:
        """Also while the closing handshake runs (autobahn refuses to send then)."""
        websocket = self.websocket
        return websocket.closing or websocket.state != websocket.STATE_OPEN or self._tcp is None or self._tcp.disconnecting

    @property
    def connected(self) -> bool:
        return not self.disconnecting

    def write(self, data: bytes) -> None:
        """One binary message, unmasked as a server sends it. The fan-out writes the same
        frame to every viewer of a broadcast: its message is built once and shared, and
        sent at once where the socket takes it (``common.socket_write``), as to a viewer
        on the client port."""
        if not self.disconnecting:
            self.websocket.send_binary(data)

    def writeSequence(self, data) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        """Close after what was written (the WebSocket closing handshake follows the data)."""
        if not self.websocket.closing:
            self.websocket.closing = True
            self.websocket.sendClose(1000)

    def abortConnection(self) -> None:
        if self._tcp is not None:
            self._tcp.abortConnection()

    def getPeer(self):
        return self.websocket.peer_address

    def getHost(self):
        return self._tcp.getHost()

    def registerProducer(self, producer, streaming: bool) -> None:
        """The wrapped protocol becomes the TCP socket's producer (Twisted Web registered its
        HTTP channel there, which no longer reads the connection)."""
        tcp = self._tcp
        tcp.unregisterProducer()
        tcp.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self._tcp.unregisterProducer()

    def pauseProducing(self) -> None:
        self._tcp.pauseProducing()

    def resumeProducing(self) -> None:
        self._tcp.resumeProducing()

    def stopProducing(self) -> None:
        self.abortConnection()


class FramecastOverWebSocket(WebSocketServerProtocol):
    """One browser connection carrying one framecast protocol connection."""

    def __init__(self, inner: Protocol):
        super().__init__()
        self.inner = inner
        self.closing = False
        self.opened = False
        self._write = None  # the TCP transport's write, direct where it can be

    def send_binary(self, data: bytes) -> None:
        """``data`` as one binary message, written after anything autobahn queued."""
        if self._write is None:
            tcp = self.transport
            self._write = direct_writer(tcp) if isinstance(tcp, Server) else tcp.write
        self._write(binary_message(data))

    # autobahn checks each frame and message against these as it reads them (and copies
    # its factory's settings here, which the wrapped protocol's limit replaces).
    @property
    def maxMessagePayloadSize(self) -> int:
        decoder = getattr(self.inner, "decoder", None)  # made when the WebSocket opens
        return WIRE_HEADER + (PRE_AUTH_MAX_BODY if decoder is None else decoder.max_body)

    @maxMessagePayloadSize.setter
    def maxMessagePayloadSize(self, value: int) -> None:
        pass

    maxFramePayloadSize = maxMessagePayloadSize

    def onConnect(self, request):
        if not origin_allowed(request.origin, request.host, self.factory.trusted_origins):
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "pages of other sites may not open this WebSocket")
        self.peer_address = self.transport.getPeer()
        return SUBPROTOCOL if SUBPROTOCOL in request.protocols else None

    def failHandshake(self, reason: str, code: int = 400, responseHeaders=None):
        """autobahn's reasons quote the request's headers: the peer gets a fixed line."""
        self.log.debug("refused WebSocket handshake: {reason}", reason=reason)
        fixed = REFUSED_HANDSHAKE.get(code, REFUSED_HANDSHAKE[400])
        return super().failHandshake(fixed, code, responseHeaders)

    def onOpen(self) -> None:
        self.opened = True
        self.inner.makeConnection(_ProtocolTransport(self))

    def dataReceived(self, data: bytes) -> None:
        """A lone small binary message arriving whole (the page's ACK of each frame) skips
        autobahn's frame parser, as a lone ACK skips the framer on the client port."""
        payload = lone_small_message(data) if self.opened and not self.data and not self.closing else None
        if payload is None:
            super().dataReceived(data)
        else:
            self.inner.dataReceived(payload)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if not isBinary:  # 1003, "unsupported data" (as autobahn's own stream wrapper does)
            self.closing = True
            self._fail_connection(self.CLOSE_STATUS_CODE_UNSUPPORTED_DATA, "framecast messages are binary")
            return
        self.inner.dataReceived(payload)

    def onClose(self, wasClean: bool, code, reason) -> None:
        if self.opened:
            self.opened = False
            self.closing = True
            self.inner.connected = False
            self.inner.connectionLost(Failure(ConnectionDone(reason or "WebSocket closed")))


def lone_small_message(data: bytes) -> bytes | None:
    """The unmasked payload if ``data`` is exactly one masked, final, binary client frame of
    at most 125 bytes, else None (for autobahn to read)."""
    if len(data) < 6 or data[0] != 0x82 or not data[1] & 0x80 or (data[1] & 0x7F) + 6 != len(data):
        return None
    size = len(data) - 6
    mask = int.from_bytes((data[2:6] * (size // 4 + 1))[:size], "big")
    return (int.from_bytes(data[6:], "big") ^ mask).to_bytes(size, "big")


_shared: list = [None, b""]  # the payload last framed, and its message


def binary_message(payload: bytes) -> bytes:
    """A server's binary WebSocket message (RFC 6455: FIN, opcode 2, no mask) of
    ``payload``; the last one is kept, so the same frame for many viewers is framed once."""
    if _shared[0] is payload:
        return _shared[1]
    size = len(payload)
    if size < 126:
        header = bytes((0x82, size))
    elif size < 1 << 16:
        header = bytes((0x82, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x82, 127)) + size.to_bytes(8, "big")
    message = header + payload
    if size > 1024:  # frames, not control messages
        _shared[:] = [payload, message]
    return message


class _Factory(WebSocketServerFactory):
    def __init__(self, factory: Factory, trusted_origins: Iterable[str]):
        super().__init__(protocols=[SUBPROTOCOL])
        self.wrapped = factory
        self.trusted_origins = tuple(trusted_origins)
        self.setProtocolOptions(
            openHandshakeTimeout=10,
            autoPingInterval=20,
            autoPingTimeout=20,
            failByDrop=False,  # a refused peer gets the closing handshake, with the reason
        )

    def buildProtocol(self, addr):
        websocket = FramecastOverWebSocket(self.wrapped.buildProtocol(addr))
        websocket.factory = self
        return websocket


def websocket_resource(factory: Factory, trusted_origins: Iterable[str] = ()) -> WebSocketResource:
    """A Twisted Web resource serving ``factory``'s protocol (a ``MessageProtocol``) to
    browsers; pages from ``trusted_origins`` (hosts or origins) may open it besides the
    server's own host and loopback (``common.web_origins``)."""
    return WebSocketResource(_Factory(factory, trusted_origins))
