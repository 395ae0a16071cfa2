"""A viewer's statistics: totals since the start and the figures of the last whole second,
as ``framecast view --json`` prints them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from common.messages.admission import Path
from common.protocol import FrameInfo


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
    path: Path = Path.SERVER  # where the images come from: the slave, or the broadcaster (turbo mode)
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
            "path": self.path,
            "reconnects": self.reconnects,
            "moves": self.moves,
            "max_gap_ms": round(self.max_gap_ms, 1),
            "skipped": self.skipped,
            "cap_kbps": self.cap_kbps,
            "paused": self.paused,
            "broadcaster_paused": self.broadcaster_paused,
        }
