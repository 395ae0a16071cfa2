"""Shared pieces of the benchmarks: a real slave process, and lean asyncio clients.

The benchmarks talk to one slave directly, signing their own tickets with the slave's
secret, so the figures are the slave's alone. Viewers are asyncio protocols that parse
frames, acknowledge each at once (like the real viewer) and record the latency from the
frame's capture time to its arrival.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.local_cluster import FRAMECAST, free_port, wait_for_port  # noqa: E402
from client.sources import TestPattern  # noqa: E402
from common.messages import parse  # noqa: E402
from common.frame_seal import FrameOpener, encode_sealed_ack, from_text  # noqa: E402
from common.messages.sealing import DataAttach, FrameKey  # noqa: E402
from common.messages.streaming import BroadcastStart, ViewStart  # noqa: E402
from common.errors import ProtocolError  # noqa: E402
from common.protocol import (  # noqa: E402
    HEADER,
    MAGIC,
    PROTOCOL_VERSION,
    Codec,
    Decoder,
    FrameInfo,
    MessageType as T,
    encode_ack,
    encode_frame,
    frame_seq_and_time,
)
from common.tls import TlsFiles, local_certificates  # noqa: E402
from common.keys import slave_settings  # noqa: E402
from common.websocket_client import BINARY, client_frame, server_frame  # noqa: E402
from common.tokens import BroadcastTicket, NodeKeys, ViewTicket  # noqa: E402


class SlaveProcess:
    """``secret``, ``id`` and ``masters`` for benchmarks of several slaves (relays)."""

    def __init__(
        self, *extra: str, secret: str | None = None, id: str = "bench-slave", masters: str = "", tls: bool = False
    ):
        """``tls``: serve TLS with a certificate of a CA made for this run (clients verify it);
        else --insecure, plain TCP as GStreamer's tcpserversink."""
        self.secret = secret or secrets.token_urlsafe(24)
        self.signer = NodeKeys.for_master(self.secret)  # signs tickets as the masters do
        self.id = id
        self.port = free_port()
        self.web_port = free_port()
        self.client_tls, tls_args = _tls(tls)  # what clients verify this slave with (None: plain TCP)
        argv = [
            *FRAMECAST,
            "slave",
            "--id",
            id,
            "--port",
            str(self.port),
            "--metrics-port",
            "0",
            "--web-port",
            str(self.web_port),
            "--masters",
            masters or f"127.0.0.1:{free_port()}",
            "--log-level",
            "warn",
            *tls_args,
            *extra,
        ]
        env = {**os.environ, **slave_settings(self.secret)}
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 30, self.process, "slave")
        self.ps = psutil.Process(self.process.pid)

    def connect(self, factory, port: int):
        """Open a client connection to ``port`` of this slave, with TLS if it serves TLS."""
        tls = {"ssl": self.client_tls, "server_hostname": "127.0.0.1"} if self.client_tls else {}
        return asyncio.get_event_loop().create_connection(factory, "127.0.0.1", port, **tls)

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # stop at once (SIGTERM would drain first)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            print(f"slave {self.process.pid} still running 10 s after SIGINT; killed", file=sys.stderr)
            self.process.kill()
            self.process.wait(10)


def _tls(tls: bool) -> tuple[ssl.SSLContext | None, list[str]]:
    """A slave's TLS for a benchmark: a certificate of a CA made for this run, or --insecure."""
    if not tls:
        return None, ["--insecure"]
    context, files = tls_files()
    return context, ["--tls-cert", str(files.cert), "--tls-key", str(files.key), "--ca", str(files.ca)]


def tls_files() -> tuple[ssl.SSLContext, TlsFiles]:
    """A server certificate for 127.0.0.1 from a CA made for this run, and the clients'
    context that verifies it."""
    folder = Path(tempfile.mkdtemp(prefix="fcbench-tls-"))
    files = local_certificates(folder, folder, ["127.0.0.1"])
    return ssl.create_default_context(cafile=files.ca), files


def jpeg_of_size(target: int) -> bytes:
    """A 640x480 test-pattern JPEG of about ``target`` bytes (noise added to reach it)."""
    image = TestPattern().read()
    rng = np.random.default_rng(1)
    best = b""
    for noise in range(0, 80, 2):
        noisy = np.clip(image.astype(np.int16) + rng.integers(-noise, noise + 1, image.shape), 0, 255).astype(np.uint8)
        data = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        best = data
        if len(data) >= target:
            break
    return best


class ViewerClient(asyncio.Protocol):
    def __init__(self, record_latency: bool = True):
        self.decoder = Decoder()
        self.frames = 0
        self.bytes = 0
        self.skipped = 0
        self.last_seq = 0
        self.latencies: list[float] = []
        self.record_latency = record_latency
        self.accepted = asyncio.get_event_loop().create_future()
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for message in self.decoder.feed(data):
            if message.type == T.FRAME:
                self.transport.write(encode_ack(self.count_frame(message.body)))
            elif message.type == T.ACCEPTED and not self.accepted.done():
                self.accepted.set_result(True)
            elif message.type == T.ERROR and not self.accepted.done():
                self.accepted.set_exception(RuntimeError(parse(message).message))

    def count_frame(self, body: bytes) -> int:
        """Count one FRAME message; its sequence number."""
        seq, capture_time = frame_seq_and_time(body)
        if self.last_seq and seq > self.last_seq + 1:
            self.skipped += seq - self.last_seq - 1
        self.last_seq = seq
        self.frames += 1
        self.bytes += len(body) + HEADER.size
        if self.record_latency:
            self.latencies.append(time.time() - capture_time)
        return seq

    def reset(self) -> None:
        self.frames = self.bytes = self.skipped = 0
        self.latencies.clear()


FRAME_START = HEADER.pack(MAGIC, PROTOCOL_VERSION, T.FRAME, 0, 0)[:4]


class StreamReader(ViewerClient):
    """A reader of the fan-out benchmark's peer (``peer.py``: GStreamer's tcpserversink): the
    same FRAME messages, parser and counters as ``ViewerClient``, but no session, so it sends
    nothing, unless ``ack``: then an ACK per frame as a viewer does, which the server reads and
    drops. It starts at the first FRAME header it sees, and should anything else come after,
    counts a resync and starts again at the next one (tcpserversink starts new clients at a
    buffer, so with one message per buffer ``resyncs`` stays 0)."""

    def __init__(self, record_latency: bool = True, ack: bool = False):
        super().__init__(record_latency)
        self.ack = ack
        self.resyncs = 0
        self._seeking: bytes | None = b""  # not in step yet: what came so far

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.accepted.set_result(True)

    def data_received(self, data: bytes) -> None:
        if self._seeking is not None:
            data = self._seeking + data
            start = data.find(FRAME_START)
            if start < 0:
                self._seeking = data[-(len(FRAME_START) - 1) :]
                return
            self._seeking, data = None, data[start:]
        try:
            for message in self.decoder.feed(data):
                if message.type == T.FRAME:
                    seq = self.count_frame(message.body)
                    if self.ack:
                        self.transport.write(encode_ack(seq))
        except ProtocolError:
            self.resyncs += 1
            self.decoder, self._seeking = Decoder(), b""


async def open_viewer(
    slave: SlaveProcess, user: str, target: str, cap_kbps: float | None = None, **options
) -> ViewerClient:
    _, viewer = await slave.connect(lambda: ViewerClient(**options), slave.port)
    ticket = slave.signer.sign(ViewTicket(user, target, slave.id, f"session-{user}", cap_kbps))
    viewer.transport.write(ViewStart(ticket).encode())
    await viewer.accepted
    return viewer


SIGNATURE_SAMPLE = 16  # a sealed viewer checks the signature of one frame in this many


class SealedDataClient(ViewerClient):
    """A sealed viewer's data connection (``common.messages.sealing``): it opens each frame
    (AES-GCM, which checks it whole) and checks the slave's signature on one frame in
    ``SIGNATURE_SAMPLE`` (a real viewer checks every one, at 15 a second; 500 viewers' worth
    in one process would take a core), each viewer its own frames of the sample, so they do
    not all check the same frame at once; then counts it and sends its MACed ACK."""

    def __init__(self, opener: FrameOpener, ack_key: bytes, token: str, record_latency: bool = True):
        super().__init__(record_latency)
        self.opener, self.ack_key, self.token = opener, ack_key, token
        self.waiting: list[bytes] = []  # sealed with a key still on its way over TLS
        self.sample_offset = secrets.randbelow(SIGNATURE_SAMPLE)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        transport.write(DataAttach(self.token).encode())

    def data_received(self, data: bytes) -> None:
        for message in self.decoder.feed(data):
            if message.type == T.SEALED_FRAME:
                self.waiting.append(message.body)
        self.open_waiting()

    def open_waiting(self) -> None:
        while self.transport is not None and self.waiting and self.opener.key_of(self.waiting[0]) in self.opener.keys:
            sealed = self.waiting.pop(0)
            check = (self.frames + self.sample_offset) % SIGNATURE_SAMPLE == 0
            body = self.opener.open(sealed, check_signature=check)
            self.transport.write(encode_sealed_ack(self.ack_key, self.count_frame(body)))


class SealedControlClient(ViewerClient):
    """A sealed viewer's TLS connection: ACCEPTED with its keys, then FRAME_KEYs, which go
    straight into the opener its data connection uses."""

    def __init__(self, record_latency: bool = True):
        super().__init__(record_latency)
        self.data: SealedDataClient | None = None
        self.opener: FrameOpener | None = None

    def data_received(self, data: bytes) -> None:
        for message in self.decoder.feed(data):
            parsed = parse(message)
            if isinstance(parsed, FrameKey):
                self.opener.add_key(parsed.key_id, from_text(parsed.key, 32))
                if self.data is not None:
                    self.data.open_waiting()
            elif message.type == T.ACCEPTED and not self.accepted.done():
                self.opener = FrameOpener(from_text(parsed.seal.public_key, 32))
                self.accepted.set_result(parsed)
            elif message.type == T.ERROR and not self.accepted.done():
                self.accepted.set_exception(RuntimeError(parsed.message))


async def open_sealed_viewer(slave: SlaveProcess, user: str, target: str, **options) -> SealedDataClient:
    """A native viewer of a TLS slave as the CLI's is: sealed frames on a data connection."""
    _, control = await slave.connect(lambda: SealedControlClient(**options), slave.port)
    ticket = slave.signer.sign(ViewTicket(user, target, slave.id, f"session-{user}"))
    control.transport.write(ViewStart(ticket, sealed=True).encode())
    seal = (await control.accepted).seal
    control.data = SealedDataClient(control.opener, from_text(seal.ack_key, 32), seal.data_token, **options)
    control.data.control = control  # kept open: the slave ends the view when it closes
    await asyncio.get_event_loop().create_connection(lambda: control.data, "127.0.0.1", slave.port)
    return control.data


class HttpViewerClient(ViewerClient):
    """An MJPEG player (``/watch/USER.mjpg``): it reads parts as they come and sends nothing."""

    def __init__(self, record_latency: bool = True):
        super().__init__(record_latency)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        if not self.accepted.done():
            self.accepted.set_result(data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"))
        self.bytes += len(data)
        buffer = self.buffer + data
        while True:
            start = buffer.find(b"\r\nX-Frame-Seq: ")
            end = buffer.find(b"\r\n\r\n", start + 2)
            if start < 0 or end < 0:
                break
            headers = dict(
                line.split(b": ", 1) for line in buffer[buffer.rfind(b"--", 0, start) : end].split(b"\r\n")[1:]
            )
            length = int(headers[b"Content-Length"])
            if len(buffer) < end + 4 + length:
                break
            self.frames += 1
            if self.record_latency:
                self.latencies.append(time.time() - float(headers[b"X-Capture-Time"]))
            buffer = buffer[end + 4 + length :]
        self.buffer = buffer


async def open_http_viewer(slave: SlaveProcess, user: str, target: str, **options) -> HttpViewerClient:
    _, viewer = await slave.connect(lambda: HttpViewerClient(**options), slave.web_port)
    ticket = slave.signer.sign(ViewTicket(user, target, "bench-slave", f"session-{user}"))
    viewer.transport.write(f"GET /watch/{target}.mjpg?ticket={ticket} HTTP/1.0\r\n\r\n".encode())
    if not await viewer.accepted:
        raise RuntimeError("the slave refused the MJPEG request")
    return viewer


class WebSocketViewerClient(ViewerClient):
    """A browser's viewer: the framecast protocol in binary WebSocket messages on the slave's
    web port (``/ws``), acknowledging each frame as the page does once it is drawn."""

    def __init__(self, record_latency: bool = True):
        super().__init__(record_latency)
        self.opened = asyncio.get_event_loop().create_future()
        self.handshake = b""
        self.frames_in = b""

    def connection_made(self, transport) -> None:
        self.transport = _MaskedWriter(transport)

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self.handshake += data
            head, sep, data = self.handshake.partition(b"\r\n\r\n")
            if not sep:
                return
            self.opened.set_result(head.startswith(b"HTTP/1.1 101"))
        self.frames_in += data
        while (frame := server_frame(self.frames_in)) is not None:
            opcode, payload, used = frame
            self.frames_in = self.frames_in[used:]
            if opcode in (0x0, 0x2):
                super().data_received(payload)
            elif opcode == 0x9:  # ping
                self.transport.write(payload, opcode=0xA)


class _MaskedWriter:
    """A client's WebSocket frames (masked, as clients must send them)."""

    def __init__(self, transport):
        self.raw = transport

    def write(self, data: bytes, opcode: int = BINARY) -> None:
        self.raw.write(client_frame(data, opcode))

    def close(self) -> None:
        self.raw.close()


async def open_ws_viewer(slave: SlaveProcess, user: str, target: str, **options) -> WebSocketViewerClient:
    _, viewer = await slave.connect(lambda: WebSocketViewerClient(**options), slave.web_port)
    key = base64.b64encode(os.urandom(16)).decode()
    viewer.transport.raw.write(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{slave.web_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: framecast\r\n\r\n".encode()
    )
    if not await viewer.opened:
        raise RuntimeError("the slave refused the WebSocket")
    ticket = slave.signer.sign(ViewTicket(user, target, slave.id, f"session-{user}"))
    viewer.transport.write(ViewStart(ticket).encode())
    await viewer.accepted
    return viewer


class BroadcasterClient(asyncio.Protocol):
    """Uploads one image repeatedly, one frame in flight, at ``fps`` (None: flat out)."""

    def __init__(self, image: bytes, fps: float | None):
        self.image = image
        self.fps = fps
        self.acked = asyncio.Event()
        self.decoder = Decoder()
        self.sent = 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for message in self.decoder.feed(data):
            if message.type in (T.ACK, T.ACCEPTED):
                self.acked.set()

    async def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        next_send = time.monotonic()
        while time.monotonic() < end:
            await self.acked.wait()
            self.acked.clear()
            self.sent += 1
            info = FrameInfo(self.sent, time.time(), 640, 480, Codec.JPEG)
            self.transport.write(encode_frame(info, self.image))
            if self.fps:
                next_send += 1 / self.fps
                await asyncio.sleep(max(0.0, next_send - time.monotonic()))


async def open_broadcaster(slave: SlaveProcess, user: str, image: bytes, fps: float | None) -> BroadcasterClient:
    _, client = await slave.connect(lambda: BroadcasterClient(image, fps), slave.port)
    ticket = slave.signer.sign(BroadcastTicket(user, "bench-session", slave.id, nonce=secrets.token_urlsafe(6)))
    client.transport.write(BroadcastStart(ticket).encode())
    await client.acked.wait()
    return client


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")
