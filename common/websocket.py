"""The framecast protocol over a WebSocket, for browsers (feature O5).

A browser cannot open a TCP connection, so a page speaks exactly the framecast protocol of
``common.protocol`` inside WebSocket binary messages: the bytes of one or more framecast
messages (or a part of one) per WebSocket message, in order. On the server the very same
protocol class the TCP port uses (``MasterClientProtocol``, ``SlaveClientProtocol``) runs
on a ``FramecastOverWebSocket`` connection, which gives it the transport it expects: its
writes become binary messages, its back-pressure is the TCP socket's, and a viewer in a
browser gets the same one-frame-in-flight flow control as the CLI viewer.
"""

from __future__ import annotations

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer, ITransport
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

SUBPROTOCOL = "framecast"
WIRE_HEADER = 10  # a framecast message header (common.protocol.HEADER)


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
        return self.websocket.closing or self._tcp is None or self._tcp.disconnecting

    @property
    def connected(self) -> bool:
        return not self.disconnecting

    def write(self, data: bytes) -> None:
        if not self.disconnecting:
            self.websocket.sendMessage(data, isBinary=True)

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

    def onConnect(self, request):
        self.peer_address = self.transport.getPeer()
        return SUBPROTOCOL if SUBPROTOCOL in request.protocols else None

    def onOpen(self) -> None:
        self.opened = True
        self.inner.makeConnection(_ProtocolTransport(self))

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


class _Factory(WebSocketServerFactory):
    def __init__(self, factory: Factory, max_body: int):
        super().__init__(protocols=[SUBPROTOCOL])
        self.wrapped = factory
        # autobahn keeps a whole message before handing it over: no bigger than one message
        self.setProtocolOptions(
            maxMessagePayloadSize=max_body + WIRE_HEADER,
            maxFramePayloadSize=max_body + WIRE_HEADER,
            openHandshakeTimeout=10,
            autoPingInterval=20,
            autoPingTimeout=20,
            failByDrop=False,  # a refused peer gets the closing handshake, with the reason
        )

    def buildProtocol(self, addr):
        websocket = FramecastOverWebSocket(self.wrapped.buildProtocol(addr))
        websocket.factory = self
        return websocket


def websocket_resource(factory: Factory, max_body: int) -> WebSocketResource:
    """A Twisted Web resource serving ``factory``'s protocol to browsers; ``max_body`` is
    the largest message body the protocol accepts."""
    return WebSocketResource(_Factory(factory, max_body))
