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
from client.data_link import DataLink
from client.errors import ConnectionLost, FramecastError, ServerError
from client.masters import Masters
from client.retry import Retry
from common.addresses import parse_hostport
from common.errors import ErrorCode
from common.messages.accounts import Redirect
from common.messages.streaming import Accepted, BroadcastStart, ViewStart


class SlaveSession:
    """A connection to the slave a master chose, with the redirect that led there; a viewer
    of a TLS slave also has the data connection its sealed frames come on (``data``)."""

    def __init__(self, conn: Connection, accepted: Accepted, redirect: Redirect, data: DataLink | None = None):
        self.conn = conn
        self.accepted = accepted
        self.slave = redirect.slave
        self.slave_id = redirect.slave_id
        self.data = data

    def silent_for(self) -> float:
        """Seconds since the slave last sent anything, on either connection."""
        if self.data is None:
            return self.conn.silent_for()
        return min(self.conn.silent_for(), self.data.conn.silent_for())

    def close(self) -> None:
        self.conn.close()
        if self.data is not None:
            self.data.close()


def join_slave(redirect: Redirect, start: type[BroadcastStart] | type[ViewStart]) -> SlaveSession:
    """A viewer over TLS asks for sealed frames: the same bytes for every viewer, sent on a
    plain data connection (``client.data_link``)."""
    host, port = parse_hostport(redirect.slave)
    conn = Connection(host, port)
    data = None
    try:
        message = start(redirect.ticket, sealed=True) if start is ViewStart and conn.secure else start(redirect.ticket)
        accepted = conn.request(message, Accepted)
        if accepted.seal is not None:
            data = DataLink(host, port, accepted.seal)
    except FramecastError:
        conn.close()
        raise
    return SlaveSession(conn, accepted, redirect, data)


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
