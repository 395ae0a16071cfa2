"""TLS that OpenSSL writes straight into the connection's socket (the slaves' ports).

Twisted's TLS (``TLSMemoryBIOProtocol``) encrypts into a memory buffer, reads the records
back into Python and queues them on the TCP transport: three passes over every frame for
every viewer, most of a TLS slave's cost (bench/README.md). Here the socket itself is
OpenSSL's (a pyOpenSSL ``Connection`` on the accepted socket, non-blocking): a write
encrypts and sends in one call, a read receives and decrypts in one, and the reactor only
watches the file descriptor, as for plain TCP. So the slave's direct writer
(``common.socket_write``) sends a frame at once through OpenSSL, and what the kernel does
not take waits as a view of the shared frame, never a per-viewer copy.

``DirectTLSServer`` is a ``twisted.internet.tcp.Server``, so buffering, producers,
back-pressure, ``loseConnection`` and ``abortConnection`` are Twisted's own; it changes
only how bytes pass the socket. OpenSSL's rule for a write that would block (offer the
same bytes again, and they may be followed by more) is the rule Twisted's buffer and the
direct writer already follow. A port may also serve plain HTTP to this machine
(``plain_for_loopback``, the web ports): the first byte tells, as in ``common.web_tls``. The
client ports take plain connections from anywhere (``plain_for_data``) for the sealed
frames' data connections; their protocol refuses anything else on them (``secure``).
"""

from __future__ import annotations

import socket
from types import SimpleNamespace

from OpenSSL import SSL
from twisted.internet import main, tcp
from twisted.python.components import registerAdapter
from twisted.internet.defer import execute
from twisted.internet.interfaces import ISSLTransport

from common.web_tls import FIRST_BYTE_WITHIN, TLS_HANDSHAKE, USE_HTTPS, is_loopback

_WOULD_BLOCK = (SSL.WantReadError, SSL.WantWriteError)
RECORD = 16384  # the most plaintext one TLS record carries


class DirectTLSServer(tcp.Server):
    """One accepted connection; TLS unless the port lets a loopback client speak plain."""

    def __init__(self, sock, protocol, client, server, sessionno, reactor):
        super().__init__(sock, protocol, client, server, sessionno, reactor)
        self._raw = sock
        self._tls: SSL.Connection | None = None
        self._handshaking = False
        self._first_byte = None
        if server.plain_for_loopback or server.plain_for_data:
            self._first_byte = reactor.callLater(FIRST_BYTE_WITHIN, self.abortConnection)
        else:
            self._start_tls()

    # --- which kind of connection ---------------------------------------------------
    def _start_tls(self) -> None:
        # A record goes out at once: the last of a frame's does not wait for an ACK (Nagle's
        # rule, with the peer's delayed ACK, held it 40 ms).
        self._raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._tls = SSL.Connection(self.server.tls_context, self._raw)
        self._tls.set_app_data(_Negotiation(self.server.factory))
        self._tls.set_accept_state()
        self.socket = self._tls
        self._handshaking = True

    def _sniff(self):
        """The first byte: a TLS handshake, plain HTTP from this machine, or a refusal."""
        try:
            first = self._raw.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return None
        except OSError:
            return main.CONNECTION_LOST
        if not first:
            return main.CONNECTION_DONE
        self._first_byte.cancel()
        self._first_byte = None
        if first[0] == TLS_HANDSHAKE:
            self._start_tls()
            return self._handshake()
        if self.server.plain_for_data or is_loopback(self.getPeer()):
            return super().doRead()
        self.stopReading()
        super().write(USE_HTTPS)
        self.loseConnection()
        return None

    # --- reading ----------------------------------------------------------------------
    def doRead(self):
        if self._first_byte is not None:
            return self._sniff()
        if self._tls is None:
            return super().doRead()
        if self._handshaking:
            return self._handshake()
        return self._read()

    def _read(self):
        """All the records that have arrived, decrypted (OpenSSL may hold more than one
        read returns, and the socket would not say so)."""
        chunks = []
        end = None
        try:
            chunks.append(self._tls.recv(self.bufferSize))
            while self._tls.pending():
                chunks.append(self._tls.recv(self._tls.pending()))
        except _WOULD_BLOCK:
            pass
        except SSL.ZeroReturnError:
            end = main.CONNECTION_DONE  # the peer's close_notify
        except SSL.Error:
            end = main.CONNECTION_LOST  # garbage, or the connection reset
        if chunks and self.connected:
            self.protocol.dataReceived(b"".join(chunks))
        return end

    def _handshake(self):
        try:
            self._tls.do_handshake()
        except SSL.WantReadError:
            self.stopWriting()
            return None
        except SSL.WantWriteError:
            self.startWriting()
            return None
        except SSL.Error:  # not TLS, or a client that does not trust us
            return main.CONNECTION_LOST
        self._handshaking = False
        if self.dataBuffer or self._tempDataLen:
            self.startWriting()  # what the protocol wrote meanwhile
        return self._read()

    # --- writing ----------------------------------------------------------------------
    def doWrite(self):
        if self._handshaking:
            return self._handshake()
        return super().doWrite()

    def writeSomeData(self, data):
        if self._tls is None:
            return super().writeSomeData(data)
        if self._handshaking or not data:  # OpenSSL takes no empty write (Twisted makes one)
            return 0
        try:
            return self._send_records(memoryview(data)[: self.SEND_LIMIT])
        except BlockingIOError:
            return 0
        except SSL.Error:
            return main.CONNECTION_LOST

    def send_now(self, data) -> int:
        """For the direct writer: send what the socket takes now, as ``socket.send`` does
        (``BlockingIOError`` when it takes nothing; the same bytes must be offered again)."""
        if self._tls is None:
            return self._raw.send(data)
        if self._handshaking:
            raise BlockingIOError
        try:
            return self._send_records(memoryview(data))
        except SSL.Error as exc:
            raise ConnectionError(str(exc)) from None

    def _send_records(self, data: memoryview) -> int:
        """Encrypt and send as much of ``data`` as the socket takes; ``BlockingIOError`` if
        none. OpenSSL writes a record (16 KiB at most) a call: a frame's records are corked
        so they leave as one segment, not one each (which cost a sixth of the slave)."""
        corked = len(data) > RECORD
        if corked:
            self._raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        sent = 0
        try:
            while sent < len(data):
                sent += self._tls.send(data[sent:])
        except _WOULD_BLOCK:
            if not sent:
                raise BlockingIOError from None
        finally:
            if corked:
                self._raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        return sent

    @property
    def negotiatedProtocol(self) -> bytes | None:
        """The ALPN protocol agreed, as Twisted's TLS transports say (Twisted Web asks)."""
        if self._tls is None:
            return None
        return self._tls.get_alpn_proto_negotiated() or None

    def getPeerCertificate(self):
        return None  # clients show none: they are known by tickets

    @property
    def secure(self) -> bool:
        """True once the connection is TLS (False: plain, as the port allows)."""
        return self._tls is not None

    # --- closing ----------------------------------------------------------------------
    def _closeWriteConnection(self) -> None:
        self._close_notify()
        self.socket = self._raw  # a half-close of the socket itself, then as for TCP
        try:
            super()._closeWriteConnection()
        finally:
            self.socket = self._tls or self._raw

    def _closeSocket(self, orderly) -> None:
        if orderly:
            self._close_notify()
        if self._first_byte is not None and self._first_byte.active():
            self._first_byte.cancel()
        self.socket = self._raw
        super()._closeSocket(orderly)

    def _close_notify(self) -> None:
        """Say the TLS stream ends here (the peer reads an orderly close, not a reset)."""
        if self._tls is not None and not self._handshaking:
            try:
                self._tls.shutdown()
            except SSL.Error:
                pass


def _secure(transport: DirectTLSServer) -> DirectTLSServer | None:
    """Twisted Web asks ``ISSLTransport(transport, None)`` whether a request came over TLS
    (HSTS, the scheme of a redirect). An adapter, not ``alsoProvides``: autobahn takes any
    transport that provides the interface for Twisted's own TLS protocol."""
    return transport if transport._tls is not None else None


registerAdapter(_secure, DirectTLSServer, ISSLTransport)


class _Negotiation:
    """What the ALPN callback Twisted puts on every server context asks of a connection's
    app data: the factory behind the TLS (``twisted.internet._sslverify.protosFromProtocol``)."""

    def __init__(self, factory):
        self.factory = SimpleNamespace(wrappedFactory=factory)


class DirectTLSPort(tcp.Port):
    transport = DirectTLSServer

    def __init__(
        self, port, factory, backlog, interface, reactor, tls_context, plain_for_loopback=False, plain_for_data=False
    ):
        super().__init__(port, factory, backlog, interface, reactor)
        self.tls_context = tls_context
        self.plain_for_loopback = plain_for_loopback
        self.plain_for_data = plain_for_data


class DirectTLSEndpoint:
    """A TCP server endpoint whose connections are ``DirectTLSServer``s (an
    ``IStreamServerEndpoint``, as ``TCP4ServerEndpoint`` is)."""

    def __init__(
        self,
        reactor,
        port: int,
        options,
        backlog: int = 50,
        interface: str = "",
        plain_for_loopback=False,
        plain_for_data=False,
    ):
        self.reactor = reactor
        self.port = port
        self.context = options.getContext()
        self.backlog = backlog
        self.interface = interface
        self.plain_for_loopback = plain_for_loopback
        self.plain_for_data = plain_for_data

    def listen(self, factory):
        return execute(self._listen, factory)

    def _listen(self, factory) -> DirectTLSPort:
        port = DirectTLSPort(
            self.port,
            factory,
            self.backlog,
            self.interface,
            self.reactor,
            self.context,
            self.plain_for_loopback,
            self.plain_for_data,
        )
        port.startListening()
        return port
