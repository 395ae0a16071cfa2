"""The web ports' TLS: HTTPS for everyone, plain HTTP only for a browser on this machine.

A server with a certificate serves its web port (the page, its WebSocket, MJPEG players)
with TLS. The product's web address is ``http://HOST:8100/`` on the machine that runs
``framecast up``, so a connection from a loopback address may also speak plain HTTP: the
first byte tells (a TLS handshake record starts with 0x16, an HTTP request with a letter).
Plain HTTP from anywhere else gets one line saying to use https, and nothing else.
Behind HAProxy the address is the client's own, from the PROXY header.
"""

from __future__ import annotations

import ipaddress

from twisted.internet.protocol import Factory, Protocol

from common.tls import server_factory
from common.web_headers import security_headers

TLS_HANDSHAKE = 0x16  # the content type of a TLS record that opens a connection
FIRST_BYTE_WITHIN = 10.0  # seconds a new connection has to say something
USE_HTTPS = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 39\r\nConnection: close\r\n"
    + b"".join(b"%s: %s\r\n" % header for header in security_headers(False, None).items())
    + b"\r\nthis port serves HTTPS: use https://.\r\n"
)


def is_loopback(address) -> bool:
    try:
        return ipaddress.ip_address(getattr(address, "host", "")).is_loopback
    except ValueError:
        return False


class _FirstByte(Protocol):
    """Waits for the first byte, then hands the connection to the TLS or the plain site."""

    def __init__(self, factory: "HttpsOrLocalHttp"):
        self.factory = factory
        self.inner: Protocol | None = None
        self.deadline = None

    def connectionMade(self) -> None:
        self.deadline = self.factory.clock.callLater(FIRST_BYTE_WITHIN, self.transport.abortConnection)

    def dataReceived(self, data: bytes) -> None:
        if self.inner is None:
            self.deadline.cancel()
            peer = self.transport.getPeer()
            if data[0] == TLS_HANDSHAKE:
                self.inner = self.factory.tls.buildProtocol(peer)
            elif is_loopback(peer):
                self.inner = self.factory.plain.buildProtocol(peer)
            else:
                self.transport.write(USE_HTTPS)
                self.transport.loseConnection()
                return
            self.inner.makeConnection(self.transport)
        self.inner.dataReceived(data)

    def connectionLost(self, reason) -> None:
        if self.inner is not None:
            self.inner.connectionLost(reason)
        elif self.deadline is not None and self.deadline.active():
            self.deadline.cancel()


class HttpsOrLocalHttp(Factory):
    """``site`` with TLS (``options``), and without it for loopback clients."""

    def __init__(self, site: Factory, options, clock):
        self.plain = site
        self.tls = server_factory(site, options)
        self.clock = clock

    def doStart(self) -> None:
        self.tls.doStart()  # starts ``site`` too

    def doStop(self) -> None:
        self.tls.doStop()

    def buildProtocol(self, addr) -> Protocol:
        return _FirstByte(self)


def web_server_factory(site: Factory, options, clock) -> Factory:
    """A web port's factory: ``site`` as it is without TLS (``options`` None), else HTTPS
    and plain HTTP for this machine's browsers (``clock`` times the wait for the first byte)."""
    return site if options is None else HttpsOrLocalHttp(site, options, clock)
