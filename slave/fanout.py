"""The frame cache and per-viewer fan-out (features S3 and S5). This is the hot path.

A ``Broadcast`` keeps only the newest frame of its broadcaster, as one immutable ``Frame``
whose ``wire`` bytes (the complete FRAME message) are built once and written, unchanged, to
every viewer.

Each ``ViewerStream`` keeps at most one frame in flight (graceful degradation, seed
[0073]-[0083]): a frame is sent only when

* the previous one was acknowledged by the viewer (the application-level "transmission
  complete"), and
* the viewer's socket is writable (its transport has not paused us as a push producer).

Frames that arrive meanwhile replace one another in ``waiting``; each one replaced before it
could be sent is counted as skipped for that viewer, with the reason that held it back. What
is sent next is therefore always the newest frame, and a slow viewer costs the slave at most
one frame in its socket buffer plus a reference to the shared newest frame.
"""
from __future__ import annotations

from typing import Callable

from common.protocol import MessageType, encode

IN_FLIGHT = "in_flight"
BACKPRESSURE = "backpressure"
SKIP_REASONS = (IN_FLIGHT, BACKPRESSURE)


class Frame:
    __slots__ = ("seq", "capture_time", "wire")

    def __init__(self, seq: int, capture_time: float, wire: bytes):
        self.seq = seq
        self.capture_time = capture_time
        self.wire = wire

    @classmethod
    def from_body(cls, seq: int, capture_time: float, body: bytes) -> "Frame":
        """Wrap an uploaded FRAME body; the broadcaster's body is forwarded unchanged."""
        return cls(seq, capture_time, encode(MessageType.FRAME, body))


class FanoutStats:
    """Plain counters read by the metrics collector (no locking on the hot path)."""

    __slots__ = ("frames_in", "bytes_in", "frames_out", "bytes_out", "skipped")

    def __init__(self) -> None:
        self.frames_in = 0
        self.bytes_in = 0
        self.frames_out = 0
        self.bytes_out = 0
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)


class ViewerStream:
    """One viewer's stream of one broadcast."""

    __slots__ = ("user", "write", "stats", "in_flight", "writable", "waiting", "sent", "skipped", "last_seq", "sent_at")

    def __init__(self, user: str, write: Callable[[bytes], None], stats: FanoutStats):
        self.user = user
        self.write = write
        self.stats = stats
        self.in_flight: int | None = None
        self.writable = True
        self.waiting: Frame | None = None
        self.sent = 0
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)
        self.last_seq = 0
        self.sent_at = 0.0

    def offer(self, frame: Frame) -> None:
        """A new frame is available: send it now, or hold it as the newest waiting one."""
        if self.in_flight is None and self.writable:
            self._send(frame)
            return
        if self.waiting is not None:
            reason = IN_FLIGHT if self.in_flight is not None else BACKPRESSURE
            self.skipped[reason] += 1
            self.stats.skipped[reason] += 1
        self.waiting = frame

    def acknowledged(self, seq: int) -> None:
        """The viewer received frame ``seq`` in full; a stale ack is ignored."""
        if seq == self.in_flight:
            self.in_flight = None
            self._send_waiting()

    def set_writable(self, writable: bool) -> None:
        self.writable = writable
        if writable:
            self._send_waiting()

    def _send_waiting(self) -> None:
        frame = self.waiting
        if frame is not None and self.in_flight is None and self.writable:
            self.waiting = None
            self._send(frame)

    def _send(self, frame: Frame) -> None:
        self.in_flight = frame.seq
        self.last_seq = frame.seq
        self.sent += 1
        stats = self.stats
        stats.frames_out += 1
        stats.bytes_out += len(frame.wire)
        self.write(frame.wire)


class Broadcast:
    """One live broadcast on this slave: the newest frame and its viewers."""

    def __init__(self, user: str, session: str, stats: FanoutStats):
        self.user = user
        self.session = session
        self.stats = stats
        self.latest: Frame | None = None
        self.viewers: dict[object, ViewerStream] = {}

    def publish(self, frame: Frame) -> None:
        if self.latest is not None and frame.seq <= self.latest.seq:
            return  # a duplicate or reordered upload; never go backwards
        self.latest = frame
        self.stats.frames_in += 1
        self.stats.bytes_in += len(frame.wire)
        for viewer in self.viewers.values():
            viewer.offer(frame)

    def add_viewer(self, key: object, viewer: ViewerStream) -> None:
        self.viewers[key] = viewer

    def start_viewer(self, viewer: ViewerStream) -> None:
        """Send an attached viewer the newest frame at once, if there is one yet."""
        if self.latest is not None:
            viewer.offer(self.latest)

    def remove_viewer(self, key: object) -> ViewerStream | None:
        return self.viewers.pop(key, None)
