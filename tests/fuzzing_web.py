"""Fuzzers for the web fronts and the turbo peer server (see ``tests/fuzzing.py``).

``HttpFuzzer`` writes random, well-formed and mutated HTTP requests to a master's or a
slave's web site over ``StringTransport``: pages, player URLs with odd users, tokens and
query strings, bodies, and WebSocket upgrades followed by masked frames that carry the
protocol fuzzer's framecast messages. ``PeerFuzzer`` connects to a real ``PeerServer`` over
TLS on loopback and sends hellos with good and forged tickets, and random messages and bytes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import select
import socket
import struct
import time

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure

from client.peer_server import PeerServer
from client.peer_tls import pinned_context
from common.messages.turbo import PeerHello
from common.signing import Signer
from common.tokens import LoginClaims, PeerTicket
from common.turbo import new_turbo_key
from tests.fuzzing import USERS, Fuzzer

PATHS = [b"/", b"/index.html", b"/app.js", b"/ws", b"/watch/alice.mjpg", b"/snapshot/bob.jpg", b"/watch/",
         b"/snapshot/%00.jpg", b"/../../etc/passwd", b"/watch/" + b"a" * 300 + b".mjpg", b"/sd", b"/nosuch"]
METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"OPTIONS", b"BREW", b""]


class HttpFuzzer:
    """Feeds the web site of ``target`` ("web": a master's, "slave-web": a slave's)."""

    def __init__(self, target: str, seed: int):
        self.rng = random.Random(seed)
        self.messages_of = Fuzzer("master" if target == "web" else "slave", seed)
        self.site = _site(target, self.messages_of)
        self.crashes: list[str] = []
        self.messages = 0

    def run(self, requests: int) -> float:
        return asyncio.run(self._run(requests))

    async def _run(self, requests: int) -> float:
        globalLogPublisher.addObserver(self._observe)
        started = time.perf_counter()
        try:
            while self.messages < requests:
                self._one()
                await asyncio.sleep(0)
            for _ in range(100):
                await asyncio.sleep(0)
        finally:
            globalLogPublisher.removeObserver(self._observe)
        return time.perf_counter() - started

    def _observe(self, event: dict) -> None:
        if event.get("log_failure") is not None:
            self.crashes.append(event["log_failure"].getTraceback())

    def _one(self) -> None:
        channel = self.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        transport = _TcpLikeTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        transport.protocol = channel  # as a TCP transport has it: a WebSocket upgrade takes it over
        channel.makeConnection(transport)
        for data in self.case():
            self.messages += 1
            try:
                transport.protocol.dataReceived(data)
            except Exception as exc:
                self.crashes.append(f"{type(exc).__name__}: {exc} on {data[:80]!r}")
            if transport.disconnecting:
                break
        self.messages_of.clock.advance(self.rng.choice((0, 1, 11)))
        transport.protocol.connectionLost(Failure(ConnectionDone()))

    def case(self) -> list[bytes]:
        rng = self.rng
        if rng.random() < 0.3:
            return [self._upgrade(), *(self._ws_frame() for _ in range(rng.randrange(1, 8)))]
        request = self._request()
        if rng.random() < 0.4:
            request = self.messages_of.mutate(request)
        if rng.random() < 0.3:  # in pieces, as a slow client sends it
            cut = rng.randrange(len(request) + 1)
            return [request[:cut], request[cut:]]
        return [request]

    def _request(self) -> bytes:
        rng = self.rng
        path = rng.choice(PATHS)
        if rng.random() < 0.5:
            signed = rng.random() < 0.7
            token = self.messages_of.sign(LoginClaims(rng.choice(USERS))) if signed else os.urandom(8).hex()
            path += b"?token=" + token.encode() + rng.choice((b"", b"&ticket=x", b"&token=y", b"&%zz"))
        headers = [b"Host: 127.0.0.1"]
        if rng.random() < 0.3:
            headers.append(b"Authorization: Basic " + base64.b64encode(rng.choice((b"alice:pw", b"::", os.urandom(6)))))
        body = b""
        if rng.random() < 0.2:
            body = os.urandom(rng.randrange(64))
            headers.append(b"Content-Length: " + rng.choice((str(len(body)).encode(), b"10737418240", b"-1", b"x")))
        if rng.random() < 0.1:
            headers.append(b"Transfer-Encoding: chunked")
            body = b"5\r\nhello\r\nzz\r\n"
        if rng.random() < 0.1:
            headers.append(b"X-" + os.urandom(4).hex().encode() + b": " + b"v" * rng.randrange(20000))
        return rng.choice(METHODS) + b" " + path + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body

    def _upgrade(self) -> bytes:
        rng = self.rng
        key = base64.b64encode(os.urandom(16))
        origin = rng.choice((b"", b"Origin: http://127.0.0.1\r\n", b"Origin: https://evil.example\r\n"))
        protocol = rng.choice((b"framecast", b"other"))
        return (
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: " + protocol + b"\r\n" + origin + b"\r\n"
        )

    def _ws_frame(self) -> bytes:
        """A masked client frame (binary, text, ping or close) of a fuzzer message, or junk."""
        rng = self.rng
        if rng.random() < 0.1:
            return os.urandom(rng.randrange(1, 32))
        payload = self.messages_of.case()
        opcode = rng.choice((0x2, 0x2, 0x2, 0x1, 0x9, 0x8, 0x0, 0x3))
        fin = 0x80 if rng.random() < 0.9 else 0
        mask = os.urandom(4)
        size = len(payload)
        length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bytes([fin | opcode]) + length + mask + masked


class _TcpLikeTransport(StringTransport):
    """As a TCP transport, unregistering no producer is no error (Twisted Web does it)."""

    def unregisterProducer(self) -> None:
        self.producer = self.streaming = None


def _site(target: str, messages_of: Fuzzer):
    if target == "web":
        from master.ports.web_front import web_site

        return web_site(messages_of.node.client_services, messages_of.clock)
    from slave.web import web_site

    return web_site(messages_of.node.client_services, messages_of.clock)


class PeerFuzzer:
    """Feeds a real ``PeerServer`` hellos, messages and bytes over TLS on loopback."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.key = new_turbo_key()
        self.server = PeerServer("alice", host="127.0.0.1")
        self.server.use_key(self.key)
        self.server.listen(True)
        self.server.allow("bob", "bob-peer")
        self.messages_of = Fuzzer("slave", seed)
        self.crashes: list[str] = []
        self.messages = 0

    def run(self, connections: int) -> float:
        started = time.perf_counter()
        try:
            for _ in range(connections):
                self._one()
        finally:
            self.server.close()
        return time.perf_counter() - started

    def _one(self) -> None:
        rng = self.rng
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        if rng.random() < 0.1:  # not even TLS
            raw.sendall(os.urandom(rng.randrange(1, 64)))
            self._serve()
            raw.close()
            return
        sock = pinned_context().wrap_socket(raw, server_hostname="127.0.0.1", do_handshake_on_connect=False)
        sock.setblocking(False)
        for _ in range(50):
            try:
                sock.do_handshake()
                break
            except (OSError, ValueError):
                self._serve()
        try:
            sock.setblocking(True)
            sock.settimeout(1)
            for data in (self._hello(), *(self.messages_of.case() for _ in range(rng.randrange(1, 6)))):
                self.messages += 1
                sock.sendall(data)
                self._serve()
        except OSError:
            pass  # the server closed it: a refusal
        finally:
            sock.close()
        self._serve()

    def _hello(self) -> bytes:
        rng = self.rng
        key = self.key if rng.random() < 0.6 else new_turbo_key()
        ticket = Signer(key).sign(PeerTicket(rng.choice(("bob", "mallory")), rng.choice(("bob-peer", "old-peer"))))
        return PeerHello(ticket if rng.random() < 0.9 else "forged").encode()

    def _serve(self) -> None:
        try:
            self.server.serve(select.select(self.server.sockets(), [], [], 0.01)[0])
            if self.server.want_frame():
                self.server.send_frame(1, self.messages_of._frame_or_ack())
        except Exception as exc:
            self.crashes.append(f"{type(exc).__name__}: {exc}")
