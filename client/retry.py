"""When joining a slave failed: wait and try again, or give up (C6, C7).

The broadcaster and the viewer both get onto a slave by asking a master for a redirect and
presenting its ticket. A refusal that a later attempt may not get (``TRANSIENT_CODES``: the
session is moving between slaves), any code the caller adds, and a lost connection are
tried again, after a jittered exponential backoff (Twisted's ``backoffPolicy``: 0.1 s
growing by half each time up to 2 s, plus up to a second of jitter), never waiting past
the deadline. Any other refusal, or a failure once the deadline has passed, is final.
"""

from __future__ import annotations

import random
from typing import Callable

from twisted.application.internet import backoffPolicy

from client.errors import FramecastError, ServerError
from common.errors import ErrorCode

# Refusals a later attempt may not get: the session is moving between slaves.
TRANSIENT_CODES = {ErrorCode.NOT_HERE, ErrorCode.WRONG_SLAVE, ErrorCode.BAD_TICKET, ErrorCode.DRAINING}
# Cluster trouble that a reconnecting client waits out (a new client is told at once).
OUTAGE_CODES = {ErrorCode.UNAVAILABLE, ErrorCode.NO_SLAVE}

FIRST_WAIT = 0.1
LONGEST_WAIT = 2.0


class Retry:
    def __init__(
        self, deadline: float, retry_codes: set[ErrorCode], now: float, jitter: Callable[[], float] = random.random
    ):
        """``deadline``: seconds from ``now`` after which a failure is final."""
        self.give_up = now + deadline
        self.retry_codes = retry_codes | TRANSIENT_CODES
        self.attempts = 0
        self._delay = backoffPolicy(initialDelay=FIRST_WAIT, maxDelay=LONGEST_WAIT, jitter=jitter)

    def wait_after(self, error: FramecastError, now: float) -> float:
        """Seconds to wait before the next attempt; raises ``error`` if there is to be none."""
        if isinstance(error, ServerError) and error.code not in self.retry_codes:
            raise error
        if now >= self.give_up:
            raise error
        self.attempts += 1
        return min(self._delay(self.attempts), self.give_up - now)
