"""The peer of the fan-out benchmark: GStreamer's ``tcpserversink``, alone (plain TCP) or
behind HAProxy terminating TLS, fed the same FRAME messages the slave sends.

``gst_feeder.py`` runs ``appsrc ! tcpserversink`` under the system's Python (PyGObject) and
takes framecast messages on its stdin, each pushed as one buffer; a ``PeerBroadcaster`` here
writes them at the broadcast's frame rate, built as the benchmark's broadcaster builds its
uploads (``encode_frame``, capture time in the header). With TLS, HAProxy (``nbthread 1``,
TCP mode) terminates TLS 1.3 with AES-256-GCM, as the slave negotiates it, on a certificate of
the same kind (P-256, signed by a CA made for the run, which the readers verify) and forwards
to tcpserversink on loopback. Readers are ``harness.StreamReader``: the viewers' parser and
counters without a session (tcpserversink has no protocol, so they send no ACK, unless told
to: then tcpserversink reads and drops them, and HAProxy decrypts and forwards them first).

CPU and memory are those of the GStreamer process and, with TLS, HAProxy's, added.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from harness import StreamReader, tls_files
from cli.local_cluster import free_port, wait_for_port
from common.protocol import Codec, FrameInfo, encode_frame

PEERS = ("gstreamer", "gstreamer-haproxy-tls")
GST_PYTHON = "/usr/bin/python3"  # with python3-gi; the project's venv does not see it
FEEDER = Path(__file__).resolve().parent / "gst_feeder.py"

HAPROXY_CFG = """\
global
    nbthread 1
    maxconn 4000

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    maxconn 4000

frontend viewers
    bind 127.0.0.1:{port} ssl crt {pem} ssl-min-ver TLSv1.3 ciphersuites TLS_AES_256_GCM_SHA384
    default_backend tcpserversink

backend tcpserversink
    server gst 127.0.0.1:{gst_port}
"""


def missing() -> str:
    """What the peer needs and this machine lacks ("" if nothing)."""
    problems = []
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst; Gst.init(None); "
        "assert Gst.ElementFactory.find('appsrc') and Gst.ElementFactory.find('tcpserversink')"
    )
    if not Path(GST_PYTHON).exists() or subprocess.run([GST_PYTHON, "-c", probe], capture_output=True).returncode:
        problems.append(
            "GStreamer for the system's Python (apt-get install python3-gi gir1.2-gstreamer-1.0 "
            "gstreamer1.0-plugins-base)"
        )
    if not shutil.which("haproxy"):
        problems.append("haproxy (apt-get install haproxy)")
    return "; ".join(problems)


class PeerServer:
    """tcpserversink (``tls`` False), or tcpserversink behind HAProxy terminating TLS."""

    def __init__(self, tls: bool, soft_max: int = 4):
        self.gst_port = free_port()
        self.feeder = subprocess.Popen(
            [GST_PYTHON, str(FEEDER), "--port", str(self.gst_port), "--soft-max", str(soft_max)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        self.processes = [self.feeder]
        self.pipe: asyncio.WriteTransport | None = None
        try:
            wait_for_port(self.gst_port, 30, self.feeder, "tcpserversink")
            self.port, self.client_tls = self.gst_port, None
            if tls:
                self.client_tls, files = tls_files()
                folder = Path(tempfile.mkdtemp(prefix="fcbench-haproxy-"))
                pem = folder / "haproxy.pem"
                pem.write_bytes(files.cert.read_bytes() + files.key.read_bytes())
                self.port = free_port()
                config = folder / "haproxy.cfg"
                config.write_text(HAPROXY_CFG.format(port=self.port, pem=pem, gst_port=self.gst_port))
                with open(folder / "haproxy.log", "wb") as log:
                    self.haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=log, stderr=log)
                self.processes.append(self.haproxy)
                wait_for_port(self.port, 30, self.haproxy, f"haproxy (its output: {folder / 'haproxy.log'})")
        except BaseException:
            self.stop()
            raise
        self.ps = [psutil.Process(p.pid) for p in self.processes]

    def cpu_seconds(self) -> float:
        return sum(t.user + t.system for t in (p.cpu_times() for p in self.ps))

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.ps)

    async def broadcaster(self, image: bytes, fps: float) -> "PeerBroadcaster":
        loop = asyncio.get_running_loop()
        self.pipe, _ = await loop.connect_write_pipe(asyncio.Protocol, self.feeder.stdin)
        return PeerBroadcaster(self.pipe, image, fps)

    async def open_reader(self, record_latency: bool = True, ack: bool = False) -> StreamReader:
        tls = {"ssl": self.client_tls, "server_hostname": "127.0.0.1"} if self.client_tls else {}
        loop = asyncio.get_running_loop()
        factory = lambda: StreamReader(record_latency, ack)  # noqa: E731
        _, reader = await loop.create_connection(factory, "127.0.0.1", self.port, **tls)
        return reader

    def stop(self) -> None:
        if self.pipe is not None:
            self.pipe.close()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT if process is self.feeder else signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                print(f"peer process {process.pid} still running 10 s after the signal; killed", file=sys.stderr)
                process.kill()
                process.wait(10)


class PeerBroadcaster:
    """Writes one FRAME message per frame to the feeder at ``fps``, as the benchmark's
    broadcaster uploads to the slave (no flow control: tcpserversink has none)."""

    def __init__(self, transport: asyncio.WriteTransport, image: bytes, fps: float):
        self.transport, self.image, self.fps = transport, image, fps
        self.sent = 0

    async def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        next_send = time.monotonic()
        while time.monotonic() < end:
            self.sent += 1
            info = FrameInfo(self.sent, time.time(), 640, 480, Codec.JPEG)
            self.transport.write(encode_frame(info, self.image))
            next_send += 1 / self.fps
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))
