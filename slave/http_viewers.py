"""Viewers over plain HTTP (feature O5): MJPEG for players and a snapshot of the newest frame.

``/watch/USER.mjpg?ticket=T`` is ``multipart/x-mixed-replace`` (the IP-camera and
mjpg-streamer convention) that VLC, ffmpeg, OpenCV and ``<img>`` play. The stream is an
ordinary ``ViewerStream`` of the broadcast, so caps, pause, throw and stall detection apply
as to any viewer; only its acknowledgement differs. An HTTP player sends no ACK, so a frame
counts as received once Twisted has handed it to the socket without pausing us: a reader
that falls behind fills the socket buffer, Twisted pauses this producer, frames arriving
meanwhile replace one another, and the newest goes out once the socket drains. A stalled
reader therefore costs one frame in Twisted's buffer plus the kernel's, never a backlog.
The kernel's share is kept small (``SEND_BUFFER``) because, with no ACK, whatever sits there
is how late a slow player's picture runs.

Each frame's HTTP part is built once and shared by every HTTP viewer of the broadcast.
"""

from __future__ import annotations

import socket

from twisted.internet.interfaces import IPushProducer
from twisted.internet.tcp import Server
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from common.errors import ErrorCode, RequestError
from common.http_refusal import refusal
from common.messages.schema import Control
from common.messages.streaming import Move, Reconnect
from common.protocol import FRAME_HEADER, HEADER, Codec
from slave.client_port import ClientServices
from slave.fanout import Broadcast, Frame

BOUNDARY = b"framecast-frame"
SEND_BUFFER = 256 * 1024  # bytes the kernel may hold for one player: 2.5 MB/s at 100 ms RTT
IMAGE_AT = HEADER.size + FRAME_HEADER.size  # where the image starts in a FRAME message
CONTENT_TYPES = {Codec.JPEG: b"image/jpeg", Codec.JPEG2000: b"image/jp2"}


def image_of(frame: Frame) -> tuple[bytes, bytes]:
    """The frame's image bytes and their content type."""
    codec = frame.wire[IMAGE_AT - 1]
    return frame.wire[IMAGE_AT:], CONTENT_TYPES.get(codec, b"application/octet-stream")


def http_part(frame: Frame) -> bytes:
    """The frame as one part of the multipart stream, built on first use."""
    if frame.http_part is None:
        image, content_type = image_of(frame)
        header = b"--%s\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-Frame-Seq: %d\r\nX-Capture-Time: %.6f\r\n\r\n"
        args = (BOUNDARY, content_type, len(image), frame.seq, frame.capture_time)
        frame.http_part = header % args + image + b"\r\n"
    return frame.http_part


@implementer(IPushProducer)
class MjpegViewer:
    """One HTTP request watching a broadcast: the slave's ``Peer`` for it."""

    def __init__(self, services: ClientServices, request):
        self.services = services
        self.request = request
        self.transport = request.channel.transport  # turbo mode asks where a viewer is
        self.broadcast: Broadcast | None = None
        self.stream = None
        self.paused = False

    def start(self, ticket: str) -> None:
        self.broadcast, self.stream = self.services.admission.viewer(ticket, self, self._write)
        request = self.request
        request.setHeader(b"Content-Type", b"multipart/x-mixed-replace; boundary=" + BOUNDARY)
        request.setHeader(b"Cache-Control", b"no-store")
        if isinstance(self.transport, Server):  # plain TCP (under TLS the wrapper has no socket of its own)
            self.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        request.registerProducer(self, True)
        request.notifyFinish().addBoth(self._gone)
        self.broadcast.start_viewer(self.stream)
        self.services.turbo.viewers_changed(self.broadcast)

    def _write(self, wire: bytes) -> None:
        """The fan-out writes ``wire``, the newest frame's message (it replaces a waiting frame
        as it arrives), so its shared HTTP part is the broadcast's newest frame's."""
        self.request.write(http_part(self.broadcast.latest))
        if not self.paused:
            self.stream.acknowledged(self.stream.in_flight)

    # The HTTP channel calls these as the socket buffer fills and drains.
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        if self.stream is not None and self.stream.in_flight is not None:
            self.stream.acknowledged(self.stream.in_flight)

    def stopProducing(self) -> None:
        self._end()

    # What the slave asks of any viewer connection (``slave.peer.Peer``).
    def send(self, message: Control) -> None:
        """Control messages have no place in an MJPEG stream, but a move (a drain, the
        broadcast gone to another slave) ends it: a player reconnects through the master's
        URL at once, where one kept waiting would only notice at its own read timeout."""
        if isinstance(message, (Move, Reconnect)):
            self._end()

    def drop(self, message: Control) -> None:
        self._end()

    def reject(self, code: ErrorCode, message: str) -> None:
        self._end()

    def _end(self) -> None:
        if not self.request.finished and not self.request._disconnected:
            self.request.unregisterProducer()
            self.request.finish()

    def _gone(self, _) -> None:
        if self.broadcast is not None:
            self.services.viewers.detach(self.broadcast, self)


class _SlaveResource(Resource):
    isLeaf = True

    def __init__(self, services: ClientServices):
        super().__init__()
        self.services = services


class WatchResource(_SlaveResource):
    """``/watch/USER.mjpg?ticket=T``."""

    def render_GET(self, request):
        try:
            MjpegViewer(self.services, request).start(_ticket(request))
        except RequestError as exc:
            return refusal(request, exc)
        return NOT_DONE_YET


class SnapshotResource(_SlaveResource):
    """``/snapshot/USER.jpg?ticket=T``: the newest frame, once per ticket."""

    def render_GET(self, request):
        try:
            broadcast = self.services.admission.snapshot(_ticket(request))
        except RequestError as exc:
            return refusal(request, exc)
        image, content_type = image_of(broadcast.latest)
        request.setHeader(b"Content-Type", content_type)
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"X-Frame-Seq", b"%d" % broadcast.latest.seq)
        return image


def _ticket(request) -> str:
    ticket = request.args.get(b"ticket", [b""])[0].decode("utf-8", "replace")
    if not ticket:
        raise RequestError(ErrorCode.BAD_TICKET, "a ticket is needed: ask a master (/watch/USER.mjpg there)")
    return ticket
