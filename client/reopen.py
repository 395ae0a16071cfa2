"""The backoff between attempts to reopen a camera that dropped, stalled or rebooted.

Exponential from half a second up to a cap (a rebooting camera takes tens of seconds; a
network blip a moment), each wait shortened by up to a quarter at random so that several
broadcasters of one camera do not all knock at the same instant.
"""

from __future__ import annotations

import random
from typing import Callable, Iterator

import backoff

FIRST_WAIT = 0.5
LONGEST_WAIT = 10.0


def reopen_delays(
    first: float = FIRST_WAIT, cap: float = LONGEST_WAIT, jitter: Callable[[], float] = random.random
) -> Iterator[float]:
    """Endless seconds to wait before each attempt: 0.5, 1, 2, 4, 8, 10, 10, ... less jitter."""
    waits = backoff.expo(base=2, factor=first, max_value=cap)
    next(waits)  # backoff's generators start with a bare yield, for send()
    for wait in waits:
        yield wait * (1 - 0.25 * jitter())
