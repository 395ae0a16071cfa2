"""The connection pool every PostgreSQL module shares, and the errors users see."""

from __future__ import annotations

from typing import Any, Callable

import psycopg2
from twisted.enterprise import adbapi

from common.errors import ErrorCode, RequestError


UNAVAILABLE = "the user database is unavailable; try again shortly"


class _PooledConnection(adbapi.Connection):
    """A pooled connection that PostgreSQL closed (it restarted) is dropped quietly when its
    transaction fails: adbapi would first try to roll it back and log the failure with a
    traceback, for what is an outage ``Database.run`` already answers."""

    def rollback(self) -> None:
        if self._connection is not None and self._connection.closed:
            self._pool.disconnect(self._connection)
            return
        super().rollback()


class _Pool(adbapi.ConnectionPool):
    connectionFactory = _PooledConnection


# PostgreSQL out of reach (its packets dropped, not refused) must fail a request within
# seconds, not hold a pool thread for TCP's minutes: a bound on connecting, and on data
# unacknowledged on an open connection (tcp_user_timeout, ms) or an idle one (keepalives).
UNREACHABLE_AFTER = dict(
    connect_timeout=3, tcp_user_timeout=5000, keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2
)


class Database:
    def __init__(self, dsn: str, max_connections: int = 8):
        self.pool = _Pool(
            "psycopg2", dsn, cp_reconnect=True, cp_min=1, cp_max=max_connections, cp_noisy=False, **UNREACHABLE_AFTER
        )

    async def run(self, txn: Callable[..., Any], *args: Any) -> Any:
        """Run ``txn(cursor, *args)`` in one transaction; a lost database is a clear refusal.

        A pooled connection that PostgreSQL closed (it restarted) fails its next transaction
        once and is then dropped (``cp_reconnect``), so a failed transaction is tried once more
        on a fresh connection: after a restart the first request works, not the ninth."""
        for attempt in range(2):
            try:
                return await self.interact(txn, *args)
            except psycopg2.OperationalError:
                if attempt:
                    raise RequestError(ErrorCode.UNAVAILABLE, UNAVAILABLE) from None

    def interact(self, txn: Callable[..., Any], *args: Any):
        """The transaction itself, on a pool thread (an awaitable)."""
        return self.pool.runInteraction(txn, *args)

    def close(self) -> None:
        self.pool.close()


def user_ids(cursor, *names: str) -> list[int]:
    """The ids of users by name; an unknown name is a clear refusal."""
    cursor.execute("SELECT name, id FROM users WHERE name = ANY(%s)", (list(names),))
    found = dict(cursor.fetchall())
    for name in names:
        if name not in found:
            raise RequestError(ErrorCode.UNKNOWN_USER, f"no such user '{name}'")
    return [found[name] for name in names]
