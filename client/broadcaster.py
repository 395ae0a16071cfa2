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

What to do at each step is ``client.broadcast_state``'s to decide; this loop captures,
encodes, reads and writes the sockets, and carries out what the state asks.
"""

from __future__ import annotations

import secrets
import select
import time
from typing import Callable

import cv2

from client import codecs
from client.actions import Close, Move, Say, Send, Upload
from client.broadcast_state import BroadcastState
from client.broadcast_stats import BroadcastStats
from client.errors import ConnectionLost, FramecastError
from client.frames import NO_FRAME, Captured
from client.live_source import Back, Outage
from client.masters import Masters
from client.session import SlaveSession, connect_with_retry
from client.turbo_broadcast import BroadcastTurbo
from common.messages.social import PrefsChanged, Settings
from common.messages.streaming import BroadcastStart, ViewerEvent
from common.prefs import FPS_OF_RATE, Pref, Rate, parse_size
from common.protocol import Codec, FrameInfo, encode_frame

MOVE_DEADLINE = 10.0  # seconds to get onto the new slave of a move before staying put


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
        clock: Callable[[], float] = time.monotonic,
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
        self.pass_through = pass_through  # forward a source's JPEG bytes when nothing asks for a change
        self.session_id = secrets.token_urlsafe(12)
        self.state = BroadcastState(max_kbps)
        self.stats: BroadcastStats = self.state.stats
        self.turbo = turbo
        self.clock = clock

    def run(self, frames: int | None = None, duration: float | None = None) -> BroadcastStats:
        """Broadcast until ``frames`` are captured, ``duration`` passes or the source ends."""
        end = self.clock() + duration if duration else None
        next_capture = self.clock()
        self.masters.attach(self.token)
        try:
            while frames is None or self.stats.captured < frames:
                if end is not None and self.clock() >= end:
                    break
                if self.state.slave is None:
                    self._connect()
                frame = self.source.read()
                if frame is None:
                    self.on_event("the source has no more images")
                    break
                self._follow_source()
                for event in self.masters.poll():
                    self._pushed(event)
                self.each_frame(self)
                if frame is not NO_FRAME and not self.state.held and self.state.slave is not None:
                    self._upload(frame if isinstance(frame, Captured) else Captured.of_image(frame))
                if self.turbo is not None:
                    self.turbo.tick()
                next_capture += self.interval
                self._serve_until(max(next_capture, self.clock()))
        finally:
            self._stop()
        return self.stats

    def _connect(self) -> None:
        """Join the slave a master places us on; after a loss, wait out cluster outages."""
        session = connect_with_retry(
            self.masters,
            lambda: self.masters.broadcast_redirect(
                self.token, self.session_id, lost=self.state.lost_slave, turbo=self._turbo_request()
            ),
            BroadcastStart,
            self.reconnect_deadline,
            retry_codes=self.state.rejoin_codes(),
            on_retry=lambda why: self.on_event(f"retrying: {why}"),
        )
        self._do(self.state.connected(session))
        self._turbo_joined(session)

    def _turbo_request(self) -> tuple[int, tuple[str, ...], str] | None:
        return self.turbo.request(self.masters.local_host()) if self.turbo else None

    def _turbo_joined(self, session: SlaveSession) -> None:
        if self.turbo is not None:
            self.turbo.joined(session.conn, session.accepted.turbo_key)

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

    def set_paused(self, paused: bool) -> None:
        """Pause (nothing is uploaded; the session and its viewers stay) or resume."""
        self._do(self.state.set_paused(paused))

    def _follow_source(self) -> None:
        """Pause while a camera URL is out, resume once it is back: one line each."""
        for event in self.source.events():
            if isinstance(event, Outage):
                self._do(self.state.source_lost(event.why))
            elif isinstance(event, Back):
                self._do(self.state.source_back(event.after))

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
        turbo = self.turbo
        self._do(
            self.state.captured(
                uploading=turbo is None or turbo.uploading,
                peers_want=turbo is not None and turbo.server.want_frame(),
                silent_for=self.state.slave.conn.silent_for(),
            ),
            frame,
        )

    def _send_frame(self, upload: Upload, frame: Captured) -> None:
        data, width, height = self._payload(frame)
        if not self.state.within_rate(self.clock(), len(data)):
            return
        wire = encode_frame(FrameInfo(upload.seq, frame.capture_time, width, height, self.codec), data)
        if upload.to_peers:
            self.turbo.send_frame(upload.seq, wire)
        if not upload.to_slave:
            return
        try:
            self.state.slave.conn.send_bytes(wire)
        except ConnectionLost as exc:
            self._do(self.state.lost(str(exc)))
            return
        self.state.sent(upload.seq)

    def _serve_until(self, when: float) -> None:
        """Handle messages from the slave until ``when`` (on ``clock``)."""
        while self.state.slave is not None:
            remaining = when - self.clock()
            if remaining <= 0 and not self.state.slave.conn.pending():
                return
            try:
                message = self._next_message(max(0.0, remaining))
            except ConnectionLost as exc:
                self._do(self.state.lost(str(exc)))
                return
            if message is not None:
                self._handle(message)

    def _next_message(self, timeout: float):
        """The slave's next message within ``timeout``, serving peer links meanwhile."""
        conn = self.state.slave.conn
        if self.turbo is None or conn.pending():
            return conn.recv(timeout)
        readable = select.select([conn.sock, *self.turbo.server.sockets()], self.turbo.server.writers(), [], timeout)[0]
        self.turbo.serve(readable)
        return conn.recv(0) if conn.sock in readable else None

    def _handle(self, message) -> None:
        if self.turbo is not None and self.turbo.handle(message):
            return
        self._do(self.state.received(message))
        if self.turbo is not None and isinstance(message, ViewerEvent):
            self.turbo.viewers(message.viewer, message.viewers)

    def _move(self) -> None:
        """Make-before-break: start on the slave a master chooses, keeping this one until
        the state lets it go."""
        old = self.state.slave
        try:
            new = connect_with_retry(
                self.masters,
                lambda: self.masters.broadcast_redirect(
                    self.token, self.session_id, old.slave_id, turbo=self._turbo_request()
                ),
                BroadcastStart,
                deadline=MOVE_DEADLINE,
                retry_codes=set(),
            )
        except FramecastError as exc:
            self._do(self.state.move_failed(str(exc)))
            return
        actions = self.state.moved(new)
        self._turbo_joined(new)
        self._do(actions)

    def _do(self, actions: list, frame: Captured | None = None) -> None:
        """Carry out what the state decided, in order."""
        for action in actions:
            if isinstance(action, Say):
                self.on_event(action.line)
            elif isinstance(action, Send):
                self._send(action.to, action.message)
            elif isinstance(action, Close):
                close_session(action.session, action.farewell)
            elif isinstance(action, Move):
                self._move()
            elif isinstance(action, Upload):
                self._send_frame(action, frame)

    def _send(self, session: SlaveSession, message) -> None:
        try:
            session.conn.send(message)
        except ConnectionLost as exc:
            if session is self.state.slave:
                self._do(self.state.lost(str(exc)))

    def _stop(self) -> None:
        self._do(self.state.stopped())
        if self.turbo is not None:
            self.turbo.close()
        self.source.close()


def close_session(session: SlaveSession, farewell=None) -> None:
    """Close the connection to a slave, after ``farewell`` if the connection still takes it."""
    if farewell is not None:
        try:
            session.conn.send(farewell)
        except ConnectionLost:
            pass
    session.conn.close()
