"""The web ports' first-byte switch (common/web_tls.py) on in-memory transports: HTTPS for
everyone, plain HTTP for loopback clients only, and a silent connection cut."""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.protocols.tls import TLSMemoryBIOProtocol

from common.tls import local_certificates, server_options
from common.web_tls import FIRST_BYTE_WITHIN, HttpsOrLocalHttp


class Recorder(Protocol):
    def __init__(self):
        self.received = b""

    def dataReceived(self, data: bytes) -> None:
        self.received += data


def connect(tmp_path, peer):
    files = local_certificates(tmp_path, tmp_path, ["localhost"])
    site = Factory.forProtocol(Recorder)
    clock = Clock()
    factory = HttpsOrLocalHttp(site, server_options(str(files.cert), str(files.key)), clock)
    protocol = factory.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer)
    protocol.makeConnection(transport)
    return protocol, transport, clock


def test_plain_http_from_loopback_reaches_the_site(tmp_path):
    for peer in (IPv4Address("TCP", "127.0.0.1", 5000), IPv6Address("TCP", "::1", 5000)):
        protocol, transport, _ = connect(tmp_path, peer)
        protocol.dataReceived(b"GET / HTTP/1.1\r\n")
        protocol.dataReceived(b"Host: x\r\n\r\n")
        assert isinstance(protocol.inner, Recorder)
        assert protocol.inner.received == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_plain_http_from_elsewhere_is_told_to_use_https_and_closed(tmp_path):
    protocol, transport, _ = connect(tmp_path, IPv4Address("TCP", "203.0.113.9", 5000))
    protocol.dataReceived(b"GET /watch/alice.mjpg HTTP/1.1\r\n\r\n")
    assert protocol.inner is None
    assert transport.value().startswith(b"HTTP/1.1 400") and b"use https://" in transport.value()
    assert transport.disconnecting


def test_a_tls_handshake_goes_to_tls_from_anywhere(tmp_path):
    protocol, transport, _ = connect(tmp_path, IPv4Address("TCP", "203.0.113.9", 5000))
    protocol.dataReceived(b"\x16\x03\x01\x00\x05hello")  # the start of a ClientHello record
    assert isinstance(protocol.inner, TLSMemoryBIOProtocol)


def test_a_connection_that_says_nothing_is_cut(tmp_path):
    protocol, transport, clock = connect(tmp_path, IPv4Address("TCP", "203.0.113.9", 5000))
    clock.advance(FIRST_BYTE_WITHIN - 0.1)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting  # StringTransport's abortConnection


def test_the_use_https_line_has_the_security_headers(tmp_path):
    protocol, transport, _ = connect(tmp_path, IPv4Address("TCP", "203.0.113.9", 5000))
    protocol.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
    assert b"X-Content-Type-Options: nosniff" in transport.value()
