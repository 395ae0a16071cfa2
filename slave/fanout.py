"""The frame cache and per-viewer fan-out (features S3 and S5). This is the hot path.

A ``Broadcast`` keeps only the newest frame of its broadcaster, as one immutable ``Frame``
whose ``wire`` bytes (the complete FRAME message) are built once and written, unchanged, to
every viewer.

Each ``ViewerStream`` keeps at most one frame in flight (graceful degradation, seed
[0073]-[0083]): a frame is sent only when

* the previous one was acknowledged by the viewer (the application-level "transmission
  complete"), and
* the viewer's socket is writable (its transport has not paused us as a push producer),
* the viewer has not paused its stream (U9), and
* the frame fits under the viewer's bandwidth cap (the S6 throttle, in delay mode).

Frames that arrive meanwhile replace one another in ``waiting``; each one replaced before it
could be sent is counted as skipped for that viewer, with the reason that held it back. What
is sent next is therefore always the newest frame, and a slow viewer costs the slave at most
one frame in its socket buffer plus a reference to the shared newest frame.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet.interfaces import IReactorTime

from common.protocol import MessageType, encode
from common.throttle import Throttle, kbps_to_bytes
from slave.broadcast_life import BroadcastLife

IN_FLIGHT = "in_flight"
BACKPRESSURE = "backpressure"
PAUSED = "paused"
THROTTLED = "throttled"
ON_PEER = "p2p"  # the viewer gets images straight from the broadcaster (turbo mode)
SKIP_REASONS = (IN_FLIGHT, BACKPRESSURE, PAUSED, THROTTLED, ON_PEER)


class Frame:
    __slots__ = ("seq", "capture_time", "wire", "http_part")

    def __init__(self, seq: int, capture_time: float, wire: bytes):
        self.seq = seq
        self.capture_time = capture_time
        self.wire = wire
        self.http_part: bytes | None = None  # the frame as MJPEG, once an HTTP viewer needs it

    @classmethod
    def from_body(cls, seq: int, capture_time: float, body: bytes) -> "Frame":
        """Wrap an uploaded FRAME body; the broadcaster's body is forwarded unchanged."""
        return cls(seq, capture_time, encode(MessageType.FRAME, body))


class FanoutStats:
    """Plain counters read by the metrics collector (no locking on the hot path)."""

    __slots__ = ("frames_in", "bytes_in", "frames_out", "bytes_out", "skipped", "upload_dropped", "sealed_views")

    def __init__(self) -> None:
        self.frames_in = 0
        self.bytes_in = 0
        self.frames_out = 0
        self.bytes_out = 0
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)
        self.upload_dropped = 0
        self.sealed_views = 0  # views that took sealed frames (``slave.sealing``)


class ViewerStream:
    """One viewer's stream of one broadcast.

    ``throttle`` (delay mode) holds a frame back until it fits under the viewer's cap; a
    timer on ``clock`` sends it then, unless a newer frame replaced it meanwhile.
    """

    __slots__ = (
        "user",
        "session",
        "write",
        "stats",
        "clock",
        "in_flight",
        "writable",
        "paused",
        "peer",
        "waiting",
        "sent",
        "skipped",
        "last_seq",
        "sent_at",
        "throttle",
        "cap_kbps",
        "_timer",
        "bytes_sent",
        "started",
        "fps",
        "kbps",
        "_sample",
        "sealing",
    )

    def __init__(
        self,
        user: str,
        write: Callable[[bytes], None],
        stats: FanoutStats,
        clock: IReactorTime,
        session: str = "",
        cap_kbps: float | None = None,
    ):
        self.user = user
        self.session = session
        self.write = write
        self.stats = stats
        self.clock = clock
        self.in_flight: int | None = None
        self.writable = True
        self.paused = False
        self.peer = False
        self.waiting: Frame | None = None
        self.sent = 0
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)
        self.last_seq = 0
        self.sent_at = 0.0
        self.throttle: Throttle | None = None
        self.cap_kbps: float | None = None
        self._timer = None
        self.bytes_sent = 0
        self.started = clock.seconds()
        self.fps = self.kbps = 0.0
        self._sample = (self.started, 0, 0)
        self.sealing = None  # a sealed viewer's: its broadcast's ``slave.sealing.BroadcastSeal``
        self.set_cap(cap_kbps)

    def offer(self, frame: Frame) -> None:
        """A new frame is available: send it now, or hold it as the newest waiting one."""
        if self.waiting is not None:
            reason = self._holding_reason()
            self.skipped[reason] += 1
            self.stats.skipped[reason] += 1
        self.waiting = frame
        self._send_waiting()

    def acknowledged(self, seq: int) -> None:
        """The viewer received frame ``seq`` in full; a stale ack is ignored."""
        if seq == self.in_flight:
            self.in_flight = None
            self._send_waiting()

    def set_writable(self, writable: bool) -> None:
        self.writable = writable
        if writable:
            self._send_waiting()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self._send_waiting()

    def set_cap(self, cap_kbps: float | None) -> None:
        """Apply a new bandwidth cap at once (None: unlimited)."""
        self.cap_kbps = cap_kbps or None
        if self.cap_kbps is None:
            self.throttle = None
        elif self.throttle is None:
            self.throttle = Throttle(kbps_to_bytes(self.cap_kbps))
        else:
            self.throttle.set_cap(kbps_to_bytes(self.cap_kbps))
        self._cancel_timer()
        self._send_waiting()

    def sample(self, now: float) -> None:
        """Update ``fps`` and ``kbps`` over the time since the last sample (once a second)."""
        then, frames, sent = self._sample
        if now > then:
            self.fps = (self.sent - frames) / (now - then)
            self.kbps = (self.bytes_sent - sent) * 8 / 1000 / (now - then)
        self._sample = (now, self.sent, self.bytes_sent)

    def stalled_since(self) -> float | None:
        """When the unacknowledged frame in flight was sent, if there is one."""
        return self.sent_at if self.in_flight is not None else None

    def close(self) -> None:
        self._cancel_timer()
        self.waiting = None
        if self.sealing is not None:
            self.sealing.change_due = True  # what follows is sealed with a key it does not get

    def _holding_reason(self) -> str:
        if self.in_flight is not None:
            return IN_FLIGHT
        if self.peer:
            return ON_PEER
        if self.paused:
            return PAUSED
        if not self.writable:
            return BACKPRESSURE
        return THROTTLED

    def _send_waiting(self) -> None:
        frame = self.waiting
        if frame is None or self.in_flight is not None or not self.writable or self.paused or self.peer:
            return
        throttle = self.throttle
        if throttle is not None:
            now = self.clock.seconds()
            wait = throttle.delay(now, len(frame.wire))
            if wait > 0:
                if self._timer is None:
                    self._timer = self.clock.callLater(wait, self._timer_fired)
                return
            throttle.record(now, len(frame.wire))
        self.waiting = None
        self._send(frame)

    def _timer_fired(self) -> None:
        self._timer = None
        self._send_waiting()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _send(self, frame: Frame) -> None:
        self.in_flight = frame.seq
        self.last_seq = frame.seq
        self.sent += 1
        self.sent_at = self.clock.seconds()
        wire = frame.wire if self.sealing is None else self.sealing.wire(frame)
        stats = self.stats
        stats.frames_out += 1
        stats.bytes_out += len(wire)
        self.bytes_sent += len(wire)
        self.write(wire)


class Broadcast:
    """One broadcast on this slave: the newest frame and its viewers, and where it is in its
    life (``slave.broadcast_life``; only ``slave.broadcasts`` changes that)."""

    def __init__(self, user: str, session: str, stats: FanoutStats, life: BroadcastLife):
        self.user = user
        self.session = session
        self.stats = stats
        self.life = life
        self.paused = False
        self.latest: Frame | None = None
        self.viewers: dict[object, ViewerStream] = {}
        self.seal = None  # its frame key, once a viewer takes sealed frames (``slave.sealing``)

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
        viewer = self.viewers.pop(key, None)
        if viewer is not None:
            viewer.close()
        return viewer
