"""The viewer (feature S4): receive, acknowledge, then save, show and count.

Each frame is acknowledged as soon as it has arrived in full, which lets the slave send the
next (newest) one. Statistics are gathered per second. When the slave goes away, the viewer
asks the masters for the broadcaster's new slave and carries on; while the broadcaster is
itself moving, "not broadcasting" answers are retried until ``reconnect_deadline``.
"""

from __future__ import annotations

import select
import time
from pathlib import Path
from typing import Callable

from client.admission import admitted
from client.errors import ConnectionLost, FramecastError
from client.masters import Masters
from client.session import OUTAGE_CODES, SlaveSession, connect_with_retry
from client.turbo_view import ViewerTurbo
from client.viewer_stats import ViewerStats
from common.errors import ErrorCode
from common.messages.accounts import Redirect
from common.messages.admission import Removed
from common.messages.basic import Error
from common.messages.streaming import (
    BroadcastEnded,
    BroadcastPaused,
    ImageFrame,
    Keepalive,
    Move,
    Reconnect,
    ViewerCap,
    ViewerPause,
    ViewerResume,
    ViewStart,
)
from common.protocol import FrameInfo, decode_frame, encode_ack


SILENCE_LIMIT = 10.0


class BroadcastOver(FramecastError):
    """The broadcaster stopped; not a failure of the viewer."""


class Thrown(FramecastError):
    """The broadcaster threw this viewer out; it does not come back by itself."""


class Viewer:
    def __init__(
        self,
        masters: Masters,
        token: str,
        target: str,
        speed_kbps: float | None = None,
        link: str | None = None,
        reconnect_deadline: float = 30.0,
        on_frame: Callable[[FrameInfo, memoryview], None] = lambda info, image: None,
        on_second: Callable[[ViewerStats], None] = lambda stats: None,
        on_event: Callable[[str], None] = lambda text: None,
        on_push: Callable[[object], None] = lambda event: None,
    ):
        self.masters = masters
        self.token = token
        self.target = target
        self.speed_kbps = speed_kbps
        self.link = link
        self.reconnect_deadline = reconnect_deadline
        self.on_frame = on_frame
        self.on_second = on_second
        self.on_event = on_event
        self.on_push = on_push
        self.stats = ViewerStats()
        self.slave: SlaveSession | None = None
        self.turbo = ViewerTurbo(target, self._tell_slave, on_event)

    def run(
        self, frames: int | None = None, duration: float | None = None, keep_going: Callable[[], bool] = lambda: True
    ) -> ViewerStats:
        end = time.monotonic() + duration if duration else None
        self.masters.attach(self.token)
        self._connect(first=True)
        try:
            while (frames is None or self.stats.frames < frames) and keep_going():
                if end is not None and time.monotonic() >= end:
                    break
                if self.slave is None:
                    self._connect(first=False)
                self._receive(0.05)
                for event in self.masters.poll():
                    self.on_push(event)
                if self.stats.roll():
                    self.on_second(self.stats)
        except BroadcastOver as ended:
            self.on_event(str(ended))
        finally:
            self.turbo.close()
            if self.slave is not None:
                self.slave.conn.close()
        return self.stats

    def _connect(self, first: bool) -> None:
        """Join the broadcaster's slave. A first attempt fails at once if the user is not
        broadcasting; a reconnection keeps trying while the broadcaster moves."""
        self._join(retry_codes=set() if first else {ErrorCode.NOT_BROADCASTING} | OUTAGE_CODES)
        if not first:
            self.stats.reconnects += 1

    def _join(self, retry_codes: set[ErrorCode]) -> SlaveSession:
        slave = connect_with_retry(
            self.masters,
            self._admitted,
            ViewStart,
            self.reconnect_deadline,
            retry_codes=retry_codes,
            on_retry=lambda why: self.on_event(f"retrying: {why}"),
        )
        self.slave = slave
        self.turbo.new_slave()  # a new slave offers turbo mode afresh
        self.stats.slave = self.slave.slave
        self.stats.cap_kbps = self.slave.accepted.cap_kbps
        self.stats.broadcaster_paused = self.slave.accepted.paused
        if self.stats.paused:
            self.slave.conn.send(ViewerPause())
        self.on_event(f"watching {self.target} on slave {self.slave.slave}")
        return slave

    def _admitted(self) -> Redirect:
        """A redirect to the broadcaster's slave, once the broadcaster let us in."""
        ask = lambda: self.masters.view_redirect(self.token, self.target, self.speed_kbps, self.link)  # noqa: E731
        return admitted(self.masters, ask, self.on_event, self.on_push)

    def _move(self) -> None:
        """Make-before-break: join the broadcast's new slave, then leave the old one."""
        old = self.slave
        try:
            self._join(retry_codes={ErrorCode.NOT_BROADCASTING} | OUTAGE_CODES)
        except FramecastError as exc:
            self.slave = None  # the main loop reconnects through the masters
            self.on_event(f"could not follow the broadcast ({exc}); reconnecting")
        else:
            self.stats.moves += 1
        old.conn.close()

    def _receive(self, timeout: float) -> None:
        turbo = self.turbo
        turbo.step()
        if turbo.link is not None and not self.slave.conn.pending():
            readable = select.select([self.slave.conn.sock, *turbo.sockets()], [], [], timeout)[0]
            if turbo.link is not None and (turbo.link.sock in readable or turbo.link.pending()):
                self._from_peer(turbo.receive())
            timeout = 0.0
        self.stats.path = turbo.path
        try:
            message = self.slave.conn.recv(timeout)
            if message is None:
                if self.slave.conn.silent_for() > SILENCE_LIMIT:  # slaves send keepalives to quiet viewers
                    raise ConnectionLost(f"no word from slave {self.slave.slave} for {SILENCE_LIMIT:g} s")
                return
            if isinstance(message, ImageFrame):
                self._show(message, self.slave.conn.send_bytes)
            elif turbo.handle(message) or isinstance(message, Keepalive):
                pass
            elif isinstance(message, Move):
                self._move()
            elif isinstance(message, ViewerCap):
                self.stats.cap_kbps = message.cap_kbps
                turbo.set_cap(message.cap_kbps)
            elif isinstance(message, BroadcastPaused):
                self.stats.broadcaster_paused = message.paused
                self.on_event(f"{self.target} {'paused' if message.paused else 'resumed'} the broadcast")
            elif isinstance(message, BroadcastEnded):
                raise BroadcastOver(f"{self.target} ended the broadcast")
            elif isinstance(message, Removed):
                raise Thrown(f"{message.broadcaster} removed you")
            elif isinstance(message, (Reconnect, Error)):
                reason = message.reason if isinstance(message, Reconnect) else message.message
                raise ConnectionLost(f"slave {self.slave.slave} asked us to reconnect: {reason}")
        except ConnectionLost as exc:
            self.on_event(f"lost the slave ({exc}); reconnecting through the masters")
            self.slave.conn.close()
            self.slave = None

    def _show(self, frame: ImageFrame, ack: Callable[[bytes], None]) -> None:
        """Acknowledge a frame, then count and show it unless the other path brought it."""
        info, image = decode_frame(frame.body)
        ack(encode_ack(info.seq))
        if self.turbo.link is not None and info.seq <= self.stats.last_seq:
            return  # during a switch both paths carry the same frames
        self.stats.frame(info, len(image))
        self.on_frame(info, image)

    def _from_peer(self, message) -> None:
        if isinstance(message, ImageFrame):
            self._show(message, self.turbo.ack)
            self.turbo.peer_frame()

    def _tell_slave(self, message) -> None:
        if self.slave is not None:
            try:
                self.slave.conn.send(message)
            except ConnectionLost:
                pass  # the main loop notices and reconnects

    def set_paused(self, paused: bool) -> None:
        """Pause (no images are sent to us at all) or resume (the newest frame comes at once)."""
        self.stats.paused = paused
        self.turbo.set_paused(paused)
        if self.slave is not None:
            try:
                self.slave.conn.send(ViewerPause() if paused else ViewerResume())
            except ConnectionLost:
                pass  # sent again after the reconnection
        self.on_event("paused" if paused else "resumed")


def frame_saver(directory: Path) -> Callable[[FrameInfo, memoryview], None]:
    """Save each frame's compressed bytes as they arrived, named by sequence number."""
    from client.codecs import EXTENSIONS

    directory.mkdir(parents=True, exist_ok=True)

    def save(info: FrameInfo, image: memoryview) -> None:
        (directory / f"{info.seq:08d}{EXTENSIONS.get(info.codec, '.bin')}").write_bytes(image)

    return save
