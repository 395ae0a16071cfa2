"""Getting onto a slave through the masters, and getting back on when the slave goes away.

Both the broadcaster and the viewer ask a master for a redirect, connect to the slave it
names, present the ticket and wait for ACCEPTED. When that connection is lost they do the
same again, waiting between attempts by jittered exponential backoff (Twisted's
``backoffPolicy``), until ``deadline`` seconds have passed without success.
"""

from __future__ import annotations

import time
from typing import Callable

from twisted.application.internet import backoffPolicy

from client.connection import Connection
from client.errors import ConnectionLost, FramecastError, ServerError
from client.masters import Masters
from common.addresses import parse_hostport
from common.errors import ErrorCode
from common.messages.accounts import Redirect
from common.messages.streaming import Accepted, BroadcastStart, ViewStart

# Refusals a later attempt may not get: the session is moving between slaves.
TRANSIENT_CODES = {ErrorCode.NOT_HERE, ErrorCode.WRONG_SLAVE, ErrorCode.BAD_TICKET, ErrorCode.DRAINING}
# Cluster trouble that a reconnecting client waits out (a new client is told at once).
OUTAGE_CODES = {ErrorCode.UNAVAILABLE, ErrorCode.NO_SLAVE}


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
) -> SlaveSession:
    """Ask for a redirect and join the slave, retrying transient failures until ``deadline``.

    ``retry_codes`` are server refusals worth retrying (for a viewer after a failover,
    "not broadcasting" is, since the broadcaster is on its way to another slave).
    """
    delay = backoffPolicy(initialDelay=0.1, maxDelay=2.0)
    give_up = time.monotonic() + deadline
    attempt = 0
    while True:
        try:
            return join_slave(ask(), start)
        except ServerError as exc:
            if exc.code not in retry_codes | TRANSIENT_CODES:
                raise
            error: FramecastError = exc
        except ConnectionLost as exc:
            masters.close()
            error = exc
        if time.monotonic() >= give_up:
            raise error
        on_retry(str(error))
        attempt += 1
        time.sleep(min(delay(attempt), max(0.0, give_up - time.monotonic())))
