"""Being let in (U4): when the broadcaster must say yes, the viewer waits for the answer.

The master answers a view request with VIEW_PENDING; the broadcaster's answer is pushed to
the viewer's attached session. The viewer also asks again every few seconds, so an answer
pushed while its master connection was being replaced is not missed, until the request
expires.
"""

from __future__ import annotations

import time
from typing import Callable

from client.errors import FramecastError
from client.masters import Masters
from common.messages.accounts import Redirect
from common.messages.admission import ViewAnswer, ViewPending

ASK_AGAIN = 3.0


def admitted(
    masters: Masters,
    ask: Callable[[], Redirect | ViewPending],
    on_event: Callable[[str], None],
    on_push: Callable[[object], None],
) -> Redirect:
    """The redirect ``ask`` gives, once the broadcaster (if it must) has said yes."""
    answer = ask()
    if isinstance(answer, Redirect):
        return answer
    broadcaster = answer.broadcaster
    on_event(f"waiting for {broadcaster} to accept")
    ask_at = time.monotonic() + ASK_AGAIN
    while time.time() < answer.expires_at:
        for event in masters.poll(timeout=min(0.5, max(0.0, answer.expires_at - time.time()))):
            if isinstance(event, ViewAnswer) and event.broadcaster == broadcaster:
                if not event.accepted:
                    raise FramecastError(f"{broadcaster} declined")
                ask_at = 0.0
            else:
                on_push(event)
        if time.monotonic() >= ask_at:
            fresh = ask()
            if isinstance(fresh, Redirect):
                return fresh
            ask_at = time.monotonic() + ASK_AGAIN
    raise FramecastError(f"{broadcaster} did not answer your request in time")
