"""The broadcaster (feature S2): capture, compress, upload, one frame in flight.

Frames are captured at the requested rate. A frame is uploaded only once the slave has
acknowledged the previous one; otherwise it is skipped, so a slow uplink lowers the frame
rate instead of building a backlog (graceful degradation on the upload side, seed [0082]).
With ``max_kbps`` the broadcaster's own throttle (S6) also skips frames that would take the
upload over that rate. If the slave goes away, the broadcaster asks the masters again
(keeping its session id, so a live slave takes it back) and carries on with the next
sequence number. A camera URL (``client.live_source``) may deliver ready JPEG: with
``pass_through`` and no other size asked for, those bytes are uploaded as they came; while
such a camera is out the broadcast is paused (its viewers stay), and resumed once it is back.
In turbo mode a lone viewer gets the same frames over a peer link
(``client.turbo_broadcast``), and nothing is uploaded while the slave says so.
"""

from __future__ import annotations

import secrets
import select
import time
from typing import Callable

import cv2

from client import codecs
from client.broadcast_stats import BroadcastStats
from client.errors import ConnectionLost, FramecastError
from client.frames import NO_FRAME, Captured
from client.live_source import Back, Outage
from client.masters import Masters
from client.session import OUTAGE_CODES, SlaveSession, connect_with_retry
from client.turbo_broadcast import BroadcastTurbo
from common.messages.basic import Error
from common.messages.social import PrefsChanged, Settings
from common.prefs import FPS_OF_RATE, Pref, Rate, parse_size
from common.messages.streaming import (
    Ack,
    BroadcastMoved,
    BroadcastPause,
    BroadcastResume,
    BroadcastStart,
    BroadcastStop,
    Migrate,
    Reconnect,
    ViewerChange,
    ViewerEvent,
)
from common.protocol import Codec, FrameInfo, encode_frame
from common.throttle import Throttle, kbps_to_bytes

ACK_LIMIT = 5.0


class Broadcaster:
    def __init__(
        self,
        masters: Masters,
        token: str,
        source,
        codec: Codec = Codec.JPEG,
        quality: int = 7,
        fps: float = 15.0,
        max_kbps: float | None = None,
        reconnect_deadline: float = 60.0,
        on_event: Callable[[str], None] = lambda text: None,
        each_frame: Callable[["Broadcaster"], None] = lambda broadcaster: None,
        on_push: Callable[[object], None] = lambda event: None,
        size: tuple[int, int] | None = None,
        keep: frozenset[str] = frozenset(),
        turbo: BroadcastTurbo | None = None,
        pass_through: bool = False,
    ):
        self.masters = masters
        self.token = token
        self.source = source
        self.codec = codec
        self.quality = quality
        self.interval = 1.0 / fps
        self.size = size
        self.keep = keep  # settings the command line fixed for this run
        self.on_push = on_push
        self.reconnect_deadline = reconnect_deadline
        self.on_event = on_event
        self.each_frame = each_frame
        self.throttle = Throttle(kbps_to_bytes(max_kbps)) if max_kbps else None
        self.paused = False  # by the user
        self.source_out = False  # a camera URL is being reopened
        self.pass_through = pass_through  # forward a source's JPEG bytes when nothing asks for a change
        self.session_id = secrets.token_urlsafe(12)
        self.stats = BroadcastStats()
        self.slave: SlaveSession | None = None
        self.moving_from: SlaveSession | None = None
        self.lost_slave: str | None = None
        self.in_flight: int | None = None
        self.turbo = turbo

    def run(self, frames: int | None = None, duration: float | None = None) -> BroadcastStats:
        """Broadcast until ``frames`` are captured, ``duration`` passes or the source ends."""
        end = time.monotonic() + duration if duration else None
        next_capture = time.monotonic()
        self.masters.attach(self.token)
        try:
            while frames is None or self.stats.captured < frames:
                if end is not None and time.monotonic() >= end:
                    break
                if self.slave is None:
                    self._connect()
                frame = self.source.read()
                if frame is None:
                    self.on_event("the source has no more images")
                    break
                self._follow_source()
                for event in self.masters.poll():
                    self._pushed(event)
                self.each_frame(self)
                if frame is not NO_FRAME and not self.held and self.slave is not None:
                    self._upload(frame if isinstance(frame, Captured) else Captured.of_image(frame))
                if self.turbo is not None:
                    self.turbo.tick()
                next_capture += self.interval
                self._serve_until(max(next_capture, time.monotonic()))
        finally:
            self._stop()
        return self.stats

    def _connect(self) -> None:
        """Join the slave a master places us on; after a loss, wait out cluster outages."""
        self.slave = connect_with_retry(
            self.masters,
            lambda: self.masters.broadcast_redirect(
                self.token, self.session_id, lost=self.lost_slave, turbo=self._turbo_request()
            ),
            BroadcastStart,
            self.reconnect_deadline,
            retry_codes=OUTAGE_CODES if self.stats.slaves else set(),
            on_retry=lambda why: self.on_event(f"retrying: {why}"),
        )
        self.lost_slave = self.in_flight = None
        self.stats.slaves.append(self.slave.slave)
        self.on_event(f"broadcasting through slave {self.slave.slave}")
        if self.held:
            self.slave.conn.send(BroadcastPause())
        self._turbo_joined()

    def _turbo_request(self) -> tuple[int, tuple[str, ...], str] | None:
        return self.turbo.request(self.masters.local_host()) if self.turbo else None

    def _turbo_joined(self) -> None:
        if self.turbo is not None:
            self.turbo.joined(self.slave.conn, self.slave.accepted.turbo_key)

    def apply(self, settings: Settings) -> None:
        """Use the stored settings (U8), except those the command line fixed for this run."""
        if Pref.QUALITY not in self.keep:
            self.quality = settings.quality
        if Pref.RATE not in self.keep:
            self.interval = 1.0 / FPS_OF_RATE[Rate(settings.rate)]
        if Pref.SIZE not in self.keep:
            self.size = parse_size(settings.size)

    def _pushed(self, event) -> None:
        if isinstance(event, PrefsChanged):
            self.apply(event.settings)
            self.on_event(f"settings now: quality {self.quality}, {1 / self.interval:g} fps, size {self.size}")
        self.on_push(event)

    @property
    def held(self) -> bool:
        """Paused, by the user or while the camera is out: nothing is uploaded."""
        return self.paused or self.source_out

    def set_paused(self, paused: bool) -> None:
        """Pause (nothing is uploaded; the session and its viewers stay) or resume."""
        self._hold(lambda: setattr(self, "paused", paused))
        self.on_event("paused" if paused else "resumed")

    def _hold(self, change: Callable[[], None]) -> None:
        """Apply ``change`` to the pause flags and tell the slave if that pauses or resumes."""
        before = self.held
        change()
        if self.slave is not None and self.held != before:
            try:
                self.slave.conn.send(BroadcastPause() if self.held else BroadcastResume())
            except ConnectionLost as exc:
                self._lost(str(exc))

    def _follow_source(self) -> None:
        """Pause while a camera URL is out, resume once it is back: one line each."""
        for event in self.source.events():
            if isinstance(event, Outage):
                self.stats.source_outages += 1
                self.on_event(f"source out ({event.why}); broadcast paused, reopening it")
                self._hold(lambda: setattr(self, "source_out", True))
            elif isinstance(event, Back):
                self.on_event(f"source back after {event.after:.1f} s; broadcast resumed")
                self._hold(lambda: setattr(self, "source_out", False))

    def _payload(self, frame: Captured) -> tuple[bytes, int, int]:
        """The frame in our codec and its size: the source's own JPEG when nothing asks for a change."""
        size = (frame.width, frame.height)
        if frame.jpeg is not None and self.pass_through and self.codec == Codec.JPEG and self.size in (None, size):
            self.stats.passed_through += 1
            return frame.jpeg, frame.width, frame.height
        image = frame.decoded()
        if self.size is not None and size != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        return codecs.encode(image, self.codec, self.quality), image.shape[1], image.shape[0]

    def _upload(self, frame: Captured) -> None:
        self.stats.captured += 1
        seq, capture_time = self.stats.captured, frame.capture_time
        turbo = self.turbo
        to_slave = turbo is None or turbo.uploading
        to_peers = turbo is not None and turbo.server.want_frame()
        if self.in_flight is not None and to_slave:
            to_slave = False
            if self.slave.conn.silent_for() > ACK_LIMIT:  # the slave's host is gone without a word
                self._lost(f"no acknowledgement for {ACK_LIMIT:g} s")
                return
        if not (to_slave or to_peers):
            self.stats.skipped += 1
            return
        data, width, height = self._payload(frame)
        if self.throttle is not None:
            now = time.monotonic()
            if self.throttle.delay(now, len(data)) > 0:
                self.stats.throttled += 1
                return
            self.throttle.record(now, len(data))
        wire = encode_frame(FrameInfo(seq, capture_time, width, height, self.codec), data)
        if to_peers:
            turbo.send_frame(seq, wire)
        if not to_slave:
            return
        try:
            self.slave.conn.send_bytes(wire)
        except ConnectionLost as exc:
            self._lost(str(exc))
            return
        self.in_flight = seq
        self.stats.sent += 1

    def _serve_until(self, when: float) -> None:
        """Handle messages from the slave until ``when`` (monotonic time)."""
        while self.slave is not None:
            remaining = when - time.monotonic()
            if remaining <= 0 and not self.slave.conn.pending():
                return
            try:
                message = self._next_message(max(0.0, remaining))
            except ConnectionLost as exc:
                self._lost(str(exc))
                return
            if message is not None:
                self._handle(message)

    def _next_message(self, timeout: float):
        """The slave's next message within ``timeout``, serving peer links meanwhile."""
        conn = self.slave.conn
        if self.turbo is None or conn.pending():
            return conn.recv(timeout)
        readable = select.select([conn.sock, *self.turbo.server.sockets()], self.turbo.server.writers(), [], timeout)[0]
        self.turbo.serve(readable)
        return conn.recv(0) if conn.sock in readable else None

    def _handle(self, message) -> None:
        if self.turbo is not None and self.turbo.handle(message):
            return
        if isinstance(message, Ack):
            if message.seq == self.in_flight:
                self.in_flight = None
                self.stats.acked += 1
                if self.moving_from is not None:
                    self._leave_old_slave()
        elif isinstance(message, Migrate) and self.moving_from is None:
            self._move(message.reason or "asked to move")
        elif isinstance(message, ViewerEvent):
            verb = "joined" if message.event == ViewerChange.JOIN else "left"
            self.on_event(f"{message.viewer} {verb} ({message.viewers} watching)")
            if self.turbo is not None:
                self.turbo.viewers(message.viewer, message.viewers)
        elif isinstance(message, Reconnect):
            self._lost(f"slave asked to reconnect: {message.reason}")
        elif isinstance(message, Error):
            self._lost(f"slave error: {message.message}")

    def _move(self, reason: str) -> None:
        """Make-before-break: start on the slave a master chooses; leave this one only once
        the new one has acknowledged a frame (``_leave_old_slave``)."""
        old = self.slave
        self.on_event(f"moving off slave {old.slave}: {reason}")
        try:
            new = connect_with_retry(
                self.masters,
                lambda: self.masters.broadcast_redirect(
                    self.token, self.session_id, old.slave_id, turbo=self._turbo_request()
                ),
                BroadcastStart,
                deadline=10.0,
                retry_codes=set(),
            )
        except FramecastError as exc:
            self.on_event(f"could not move ({exc}); staying on slave {old.slave}")
            return
        self.moving_from, self.slave, self.in_flight = old, new, None
        self.stats.slaves.append(new.slave)
        self._turbo_joined()
        if self.held:  # no frame will confirm the new slave; that it took the session is enough
            new.conn.send(BroadcastPause())
            self._leave_old_slave()

    def _leave_old_slave(self) -> None:
        old, self.moving_from = self.moving_from, None
        try:
            old.conn.send(BroadcastMoved())
        except ConnectionLost:
            pass
        old.conn.close()
        self.stats.moves += 1
        self.on_event(f"moved to slave {self.slave.slave}")

    def _lost(self, why: str) -> None:
        self.on_event(f"lost the slave ({why}); reconnecting through the masters")
        self.lost_slave = self.slave.slave_id
        self.slave.conn.close()
        self.slave = None
        self.stats.reconnects += 1

    def _stop(self) -> None:
        if self.slave is not None:
            try:
                self.slave.conn.send(BroadcastStop())
            except ConnectionLost:
                pass
            self.slave.conn.close()
            self.slave = None
        if self.turbo is not None:
            self.turbo.close()
        self.source.close()
