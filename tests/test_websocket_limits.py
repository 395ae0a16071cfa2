"""The web fronts' WebSocket (common/websocket.py) on in-memory transports: pages of other
sites are refused, without the refusal repeating the request, and until the framecast
protocol inside knows who the client is, a WebSocket message may be no larger than the
pre-login body (64 KiB), so no one buffers megabytes on a connection before logging in."""

from __future__ import annotations

import struct

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from common.messages.accounts import Login
from common.messaging import PRE_AUTH_MAX_BODY, MessageProtocol, handles
from common.protocol import DEFAULT_MAX_BODY
from common.web_origins import origin_allowed
from common.web_site import WebSite
from common.websocket import WIRE_HEADER, websocket_resource

PEER = IPv4Address("TCP", "203.0.113.9", 5000)


class Guarded(MessageProtocol):
    """A LOGIN makes the client known."""

    handlers: dict = {}
    guarded = True

    @handles(handlers, Login)
    def login(self, _: Login) -> None:
        self.authenticated()


def upgrade(origin: bytes | None, trusted=()):
    """A browser's upgrade to ``/ws``; the channel, transport and framecast protocol."""
    protocols: list[Guarded] = []

    def build() -> Guarded:
        protocol = Guarded()
        protocol.clock = Clock()
        protocols.append(protocol)
        return protocol

    root = Resource()
    root.putChild(b"ws", websocket_resource(Factory.forProtocol(build), trusted))
    channel = WebSite(root, reactor=Clock()).buildProtocol(PEER)
    transport = StringTransport(peerAddress=PEER)
    transport.protocol = channel  # as a TCP transport has it: the WebSocket takes it over
    channel.makeConnection(transport)
    headers = [
        b"GET /ws HTTP/1.1",
        b"Host: cam.example:8102",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        b"Sec-WebSocket-Version: 13",
        b"Sec-WebSocket-Protocol: framecast",
    ] + ([b"Origin: " + origin] if origin is not None else [])
    channel.dataReceived(b"\r\n".join(headers) + b"\r\n\r\n")
    return transport, protocols


def frame_header(length: int) -> bytes:
    """The head of a masked binary WebSocket frame of ``length`` bytes."""
    return b"\x82\xff" + struct.pack("!Q", length) + b"\x00\x00\x00\x00"


def test_a_page_of_another_site_may_not_open_the_websocket():
    transport, protocols = upgrade(b"https://evil.example")
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 403 ") and b"evil" not in answer
    assert not protocols or not protocols[0].connected


def test_the_own_host_loopback_trusted_pages_and_non_browsers_may():
    for origin, trusted in [
        (b"https://cam.example:8100", ()),  # the master's page on the same host, another port
        (b"http://localhost:8100", ()),
        (b"https://framecast.example", ("framecast.example",)),
        (b"https://framecast.example:8443", ("https://framecast.example:8443",)),
        (None, ()),
    ]:
        transport, _ = upgrade(origin, trusted)
        assert transport.value().startswith(b"HTTP/1.1 101 "), origin


def test_origin_rules():
    assert origin_allowed("", "cam.example")
    assert origin_allowed("http://127.0.0.1:8100", "cam.example")
    assert origin_allowed("http://[::1]:8100", "cam.example")
    assert not origin_allowed("null", "cam.example")
    assert not origin_allowed("https://cam.example.evil.example", "cam.example")
    assert not origin_allowed("https://framecast.example:9999", "cam.example", ["https://framecast.example:8443"])
    assert not origin_allowed("file://", "cam.example")


def test_a_large_message_before_login_is_refused_as_its_header_arrives():
    transport, protocols = upgrade(b"https://cam.example:8100")
    transport.clear()
    protocols[0].transport.websocket.dataReceived(frame_header(DEFAULT_MAX_BODY))
    assert transport.value()[:1] == b"\x88"  # a close frame (1009, too big), no buffering
    assert struct.unpack("!H", transport.value()[2:4]) == (1009,)


def test_after_login_the_full_message_size_applies():
    transport, protocols = upgrade(b"https://cam.example:8100")
    websocket = protocols[0].transport.websocket
    assert websocket.maxMessagePayloadSize == PRE_AUTH_MAX_BODY + WIRE_HEADER
    protocols[0].authenticated()
    assert websocket.maxMessagePayloadSize == websocket.maxFramePayloadSize == DEFAULT_MAX_BODY + WIRE_HEADER
    transport.clear()
    websocket.dataReceived(frame_header(DEFAULT_MAX_BODY))
    assert transport.value() == b""  # waiting for the message, not refused
