"""A camera URL as a broadcast source: read on a thread of its own, reopened when it drops.

The broadcaster samples it at its own rate and gets the newest frame not yet taken (or
``NO_FRAME``), so a camera's rate and the broadcast's are independent and a slow upload
never backs frames up. The first open happens before the broadcast starts, so a bad URL,
refused credentials or undecodable video end the command with one line; later failures
(a drop, a stall, a reboot) become an ``Outage`` event, the thread reopens the camera with
``reopen_delays``, and a ``Back`` event follows once frames flow again.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from client.frames import NO_FRAME, Captured, NoFrame
from client.reopen import reopen_delays
from client.source_errors import SourceError, SourceLost

Opener = Callable[[], Iterator[Captured]]


@dataclass(frozen=True)
class Outage:
    why: str


@dataclass(frozen=True)
class Back:
    after: float  # seconds the camera was out
    attempts: int


class LiveSource:
    def __init__(
        self,
        shown: str,
        opener: Opener,
        stopping: threading.Event | None = None,
        delays: Callable[[], Iterator[float]] = reopen_delays,
    ):
        self.shown = shown  # the URL without its credentials
        self.opener = opener
        self.delays = delays
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = stopping or threading.Event()
        self._latest: Captured | None = None
        self._taken: Captured | None = None

    def start(self) -> "LiveSource":
        """Open the camera and get its first frame, or raise SourceError."""
        try:
            frames = self.opener()
            self._latest = next(frames)
        except (SourceLost, StopIteration) as exc:
            raise SourceError(f"{self.shown}: {exc or 'no frames'}") from None
        threading.Thread(target=self._run, args=(frames,), name="camera", daemon=True).start()
        return self

    def read(self) -> Captured | NoFrame:
        latest = self._latest
        if latest is None or latest is self._taken:
            return NO_FRAME
        self._taken = latest
        return latest

    def events(self) -> list[Outage | Back]:
        found = []
        while not self._events.empty():
            found.append(self._events.get())
        return found

    def close(self) -> None:
        self._stopping.set()

    def _run(self, frames: Iterator[Captured]) -> None:
        while frames is not None:
            why = self._follow(frames)
            if self._stopping.is_set():
                return
            self._events.put(Outage(why))
            frames = self._reopen()

    def _follow(self, frames: Iterator[Captured]) -> str:
        """Take frames until the camera fails; why it did."""
        try:
            for frame in frames:
                self._latest = frame
                if self._stopping.is_set():
                    break
            return "the stream ended"
        except (SourceLost, SourceError) as exc:
            return str(exc)
        finally:
            frames.close()

    def _reopen(self) -> Iterator[Captured] | None:
        """The camera's frames once it opens again; None if the broadcast stops first."""
        since = time.monotonic()
        for attempt, delay in enumerate(self.delays(), 1):
            if self._stopping.wait(delay):
                return None
            try:
                frames = self.opener()
                self._latest = next(frames)
            except (SourceLost, SourceError, StopIteration):
                continue
            self._events.put(Back(time.monotonic() - since, attempt))
            return frames
        return None
