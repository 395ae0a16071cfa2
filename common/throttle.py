"""The sliding-window throttle (feature S6; seed [0085], FIG. 6), as a pure class.

The window holds the last ``samples`` (time, length) pairs. The bandwidth it measures is the
bytes sent in the interval it spans divided by that interval::

    bandwidth = (sum of lengths, except the oldest's) / (newest time - oldest time)

(the oldest sample only marks where the interval starts; its bytes went before it). A packet
of ``length`` bytes may go at ``now`` if, counted in, the bandwidth stays within the cap.

Two ways to use it, as the seed describes:

* drop mode, ``admit()``: a packet over the cap is dropped and recorded as length 0;
* delay mode, ``delay()`` then ``record()``: the packet is held back for the returned number
  of seconds, the earliest moment it fits under the cap.

A run of consecutive drops is kept as a single zero sample whose time moves forward: the
window still slides with time, as the seed intends, but a flood of packets over the cap
cannot push every admitted packet out of the window and starve the sender (with one zero
per drop, a window of N samples flooded faster than N packets per length/cap would never
admit anything again).
"""

from __future__ import annotations

from collections import deque


class Throttle:
    __slots__ = ("cap", "samples", "_window", "_bytes")

    def __init__(self, cap: float | None, samples: int = 16):
        """``cap`` in bytes per second (None or 0: unlimited); ``samples`` >= 2."""
        if samples < 2:
            raise ValueError("a throttle window needs at least 2 samples")
        self.cap = cap or None
        self.samples = samples
        self._window: deque[tuple[float, int]] = deque(maxlen=samples)
        self._bytes = 0  # sum of lengths in the window except the oldest's

    def delay(self, now: float, length: int) -> float:
        """Seconds to wait before ``length`` bytes may be sent (0.0: send now)."""
        if self.cap is None or not self._window:
            return 0.0
        window = self._window
        oldest = window[0][0]
        if len(window) == self.samples:
            # Recording a sample evicts the oldest: the next sample starts the interval.
            oldest = window[1][0] if self.samples > 1 else now
            sent = self._bytes - window[1][1] + length
        else:
            sent = self._bytes + length
        return max(0.0, oldest + sent / self.cap - now)

    def record(self, now: float, length: int) -> None:
        window = self._window
        if length == 0 and window and window[-1][1] == 0:
            window[-1] = (now, 0)  # a run of drops is one zero sample, moved forward in time
            return
        if len(window) == self.samples:
            window.popleft()
            self._bytes -= window[0][1]  # the new oldest's bytes now precede the interval
        if window:
            self._bytes += length
        window.append((now, length))

    def admit(self, now: float, length: int) -> bool:
        """Drop mode: record and allow the packet if it fits, else record a 0 and refuse."""
        if self.delay(now, length) <= 0.0:
            self.record(now, length)
            return True
        if self.delay(now, 0) <= 0.0:  # a zero that evicted the oldest sample could shrink the span
            self.record(now, 0)
        return False

    def set_cap(self, cap: float | None) -> None:
        self.cap = cap or None

    def bandwidth(self) -> float:
        """The bandwidth the window measures now, bytes per second (0 if it spans no time)."""
        if len(self._window) < 2:
            return 0.0
        if self._bytes == 0:
            return 0.0
        span = self._window[-1][0] - self._window[0][0]
        return self._bytes / span if span > 0 else float("inf")


def kbps_to_bytes(kbps: float | None) -> float | None:
    """A cap in kilobits per second as bytes per second."""
    return kbps * 1000 / 8 if kbps else None
