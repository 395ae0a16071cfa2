"""Is a relay's upstream keeping up? (C10; chaincast's manager watching link rates.)

Frame sequence numbers count the broadcaster's frames, so a relay can compare what its
upstream delivered with what the origin produced without asking anyone: over the last
``window`` seconds, the frames received against the span of sequence numbers they cover.
Below ``threshold`` (half by default) for a whole window, the upstream is too slow: the
relay asks for another. A quiet broadcast (paused, or between frames of a slow source)
delivers few frames but skips none, so it is never taken for a slow link.
"""

from __future__ import annotations

from collections import deque


class UpstreamRate:
    def __init__(self, window: float = 3.0, threshold: float = 0.5, min_span: int = 6):
        self.window = window
        self.threshold = threshold
        self.min_span = min_span  # sequence numbers a window must cover before it is judged
        self.samples: deque[tuple[float, int]] = deque()
        self.since = 0.0

    def reset(self, now: float) -> None:
        """A new upstream: judge it on its own frames, after a full window."""
        self.samples.clear()
        self.since = now

    def frame(self, now: float, seq: int) -> None:
        self.samples.append((now, seq))
        self._trim(now)

    def fraction(self, now: float) -> float | None:
        """Frames received / frames produced over the window; None until it can tell."""
        self._trim(now)
        if now - self.since < self.window or len(self.samples) < 2:
            return None
        span = self.samples[-1][1] - self.samples[0][1] + 1
        if span < self.min_span:
            return None
        return len(self.samples) / span

    def slow(self, now: float) -> bool:
        fraction = self.fraction(now)
        return fraction is not None and fraction < self.threshold

    def _trim(self, now: float) -> None:
        samples = self.samples
        while samples and samples[0][0] < now - self.window:
            samples.popleft()
