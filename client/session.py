"""Getting onto a slave through the masters, and getting back on when the slave goes away.

Both the broadcaster and the viewer ask a master for a redirect, connect to the slave it
names, present the ticket and wait for ACCEPTED. When that connection is lost they do the
same again, as ``client.retry`` decides, until ``deadline`` seconds have passed without
success.
"""

from __future__ import annotations

import time
from typing import Callable

from client.connection import Connection
from client.errors import ConnectionLost, FramecastError, ServerError
from client.masters import Masters
from client.retry import Retry
from common.addresses import parse_hostport
from common.errors import ErrorCode
from common.messages.accounts import Redirect
from common.messages.streaming import Accepted, BroadcastStart, ViewStart


class SlaveSession:
    """A connection to the slave a master chose, with the redirect that led there."""

    def __init__(self, conn: Connection, accepted: Accepted, redirect: Redirect):
        self.conn = conn
        self.accepted = accepted
        self.slave = redirect.slave
        self.slave_id = redirect.slave_id


def join_slave(redirect: Redirect, start: type[BroadcastStart] | type[ViewStart]) -> SlaveSession:
    host, port = parse_hostport(redirect.slave)
    conn = Connection(host, port)
    try:
        accepted = conn.request(start(redirect.ticket), Accepted)
    except FramecastError:
        conn.close()
        raise
    return SlaveSession(conn, accepted, redirect)


def connect_with_retry(
    masters: Masters,
    ask: Callable[[], Redirect],
    start: type[BroadcastStart] | type[ViewStart],
    deadline: float,
    retry_codes: set[ErrorCode],
    on_retry: Callable[[str], None] = lambda reason: None,
    join: Callable[[Redirect, type], SlaveSession] = join_slave,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SlaveSession:
    """Ask for a redirect and join the slave, retrying transient failures until ``deadline``.

    ``retry_codes`` are server refusals worth retrying (for a viewer after a failover,
    "not broadcasting" is, since the broadcaster is on its way to another slave).
    """
    retry = Retry(deadline, retry_codes, clock())
    while True:
        try:
            return join(ask(), start)
        except ServerError as exc:
            error: FramecastError = exc
        except ConnectionLost as exc:
            masters.close()
            error = exc
        wait = retry.wait_after(error, clock())
        on_retry(str(error))
        sleep(wait)
