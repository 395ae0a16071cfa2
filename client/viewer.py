"""The viewer (feature S4): receive, acknowledge, then save, show and count.

Each frame is acknowledged as soon as it has arrived in full, which lets the slave send the
next (newest) one. Statistics are gathered per second. When the slave goes away, the viewer
asks the masters for the broadcaster's new slave and carries on; while the broadcaster is
itself moving, "not broadcasting" answers are retried until ``reconnect_deadline``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from client.errors import ConnectionLost, FramecastError
from client.masters import Masters
from client.session import OUTAGE_CODES, SlaveSession, connect_with_retry
from common.protocol import FrameInfo, MessageType as T, decode_frame, encode_ack


SILENCE_LIMIT = 10.0


@dataclass
class ViewerStats:
    """Totals since the start, and the figures of the last whole second."""

    frames: int = 0
    bytes: int = 0
    last_seq: int = 0
    last_frame_time: float = 0.0
    reconnects: int = 0
    moves: int = 0
    skipped: int = 0
    cap_kbps: float | None = None
    max_gap_ms: float = 0.0
    last_arrival: float = 0.0
    paused: bool = False
    broadcaster_paused: bool = False
    slave: str = ""
    fps: float = 0.0
    kbps: float = 0.0
    latency_ms: float = 0.0
    _window_start: float = field(default_factory=time.monotonic)
    _window_frames: int = 0
    _window_bytes: int = 0
    _window_latency: float = 0.0

    def frame(self, info: FrameInfo, size: int) -> None:
        """Count a frame; sequence numbers it jumped over were skipped for this viewer."""
        if self.last_seq and info.seq > self.last_seq + 1:
            self.skipped += info.seq - self.last_seq - 1
        now = time.monotonic()
        if self.last_arrival and not self.paused:
            self.max_gap_ms = max(self.max_gap_ms, 1000 * (now - self.last_arrival))
        self.last_arrival = now
        self.frames += 1
        self.bytes += size
        self.last_seq = info.seq
        self.last_frame_time = info.capture_time
        self._window_frames += 1
        self._window_bytes += size
        self._window_latency += max(0.0, time.time() - info.capture_time)

    def roll(self) -> bool:
        """Close the current second if it is over; True if it was."""
        elapsed = time.monotonic() - self._window_start
        if elapsed < 1.0:
            return False
        self.fps = self._window_frames / elapsed
        self.kbps = self._window_bytes * 8 / 1000 / elapsed
        self.latency_ms = 1000 * self._window_latency / self._window_frames if self._window_frames else 0.0
        self._window_start += elapsed
        self._window_frames = self._window_bytes = 0
        self._window_latency = 0.0
        return True

    def as_json(self) -> dict:
        return {
            "time": round(time.time(), 3),
            "frames": self.frames,
            "bytes": self.bytes,
            "fps": round(self.fps, 2),
            "kbps": round(self.kbps, 1),
            "last_seq": self.last_seq,
            "last_frame_time": round(self.last_frame_time, 3),
            "latency_ms": round(self.latency_ms, 1),
            "slave": self.slave,
            "reconnects": self.reconnects,
            "moves": self.moves,
            "max_gap_ms": round(self.max_gap_ms, 1),
            "skipped": self.skipped,
            "cap_kbps": self.cap_kbps,
            "paused": self.paused,
            "broadcaster_paused": self.broadcaster_paused,
        }


class BroadcastEnded(FramecastError):
    """The broadcaster stopped; not a failure of the viewer."""


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
        self.stats = ViewerStats()
        self.slave: SlaveSession | None = None

    def run(
        self, frames: int | None = None, duration: float | None = None, keep_going: Callable[[], bool] = lambda: True
    ) -> ViewerStats:
        end = time.monotonic() + duration if duration else None
        self._connect(first=True)
        try:
            while (frames is None or self.stats.frames < frames) and keep_going():
                if end is not None and time.monotonic() >= end:
                    break
                if self.slave is None:
                    self._connect(first=False)
                self._receive(0.05)
                if self.stats.roll():
                    self.on_second(self.stats)
        except BroadcastEnded as ended:
            self.on_event(str(ended))
        finally:
            if self.slave is not None:
                self.slave.conn.close()
        return self.stats

    def _connect(self, first: bool) -> None:
        """Join the broadcaster's slave. A first attempt fails at once if the user is not
        broadcasting; a reconnection keeps trying while the broadcaster moves."""
        self._join(retry_codes=set() if first else {"not_broadcasting"} | OUTAGE_CODES)
        if not first:
            self.stats.reconnects += 1

    def _join(self, retry_codes: set[str]) -> SlaveSession:
        slave = connect_with_retry(
            self.masters,
            lambda: self.masters.view_redirect(self.token, self.target, self.speed_kbps, self.link),
            T.VIEW_START,
            self.reconnect_deadline,
            retry_codes=retry_codes,
            on_retry=lambda why: self.on_event(f"retrying: {why}"),
        )
        self.slave = slave
        self.stats.slave = self.slave.slave
        self.stats.cap_kbps = self.slave.accepted.get("cap_kbps")
        self.stats.broadcaster_paused = bool(self.slave.accepted.get("paused"))
        if self.stats.paused:
            self.slave.conn.send_json(T.VIEWER_PAUSE)
        self.on_event(f"watching {self.target} on slave {self.slave.slave}")
        return slave

    def _move(self) -> None:
        """Make-before-break: join the broadcast's new slave, then leave the old one."""
        old = self.slave
        try:
            self._join(retry_codes={"not_broadcasting"} | OUTAGE_CODES)
        except FramecastError as exc:
            self.slave = None  # the main loop reconnects through the masters
            self.on_event(f"could not follow the broadcast ({exc}); reconnecting")
        else:
            self.stats.moves += 1
        old.conn.close()

    def _receive(self, timeout: float) -> None:
        try:
            message = self.slave.conn.recv(timeout)
            if message is None:
                if self.slave.conn.silent_for() > SILENCE_LIMIT:  # slaves send keepalives to quiet viewers
                    raise ConnectionLost(f"no word from slave {self.slave.slave} for {SILENCE_LIMIT:g} s")
                return
            if message.type == T.FRAME:
                info, image = decode_frame(message.body)
                self.slave.conn.send(encode_ack(info.seq))
                self.stats.frame(info, len(image))
                self.on_frame(info, image)
            elif message.type == T.KEEPALIVE:
                pass
            elif message.type == T.MOVE:
                self._move()
            elif message.type == T.VIEWER_CAP:
                self.stats.cap_kbps = message.json().get("cap_kbps")
            elif message.type == T.BROADCAST_PAUSED:
                self.stats.broadcaster_paused = bool(message.json().get("paused"))
                self.on_event(f"{self.target} {'paused' if self.stats.broadcaster_paused else 'resumed'} the broadcast")
            elif message.type == T.BROADCAST_ENDED:
                raise BroadcastEnded(f"{self.target} ended the broadcast")
            elif message.type in (T.RECONNECT, T.ERROR):
                reason = message.json().get("reason") or message.json().get("message")
                raise ConnectionLost(f"slave {self.slave.slave} asked us to reconnect: {reason}")
        except ConnectionLost as exc:
            self.on_event(f"lost the slave ({exc}); reconnecting through the masters")
            self.slave.conn.close()
            self.slave = None

    def set_paused(self, paused: bool) -> None:
        """Pause (no images are sent to us at all) or resume (the newest frame comes at once)."""
        self.stats.paused = paused
        if self.slave is not None:
            try:
                self.slave.conn.send_json(T.VIEWER_PAUSE if paused else T.VIEWER_RESUME)
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
