"""PostgreSQL for in-process tests: scratch databases migrated with ``master/storage/sql``, and the
master's ``Database`` and ``UserStore`` without their threads, so tests need no running
reactor."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import psycopg2
from twisted.internet.defer import maybeDeferred

from master.storage import migrations
from master.storage.db.pool import Database
from master.storage.db.users import UserStore
from tests.conftest import PG_ADMIN, drop_database


class InlineDatabase(Database):
    """``master.storage.db.pool.Database`` with each transaction run on one connection in the
    calling thread: the same SQL and the same refusals, no thread pool. A lost connection
    fails its transaction with ``OperationalError`` and is made again for the next one, as
    the pool's ``cp_reconnect`` does."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.conn = psycopg2.connect(dsn)

    async def interact(self, txn, *args):
        if self.conn.closed:
            self.conn = psycopg2.connect(self.dsn)
        try:
            with self.conn.cursor() as cursor:
                result = txn(cursor, *args)
            self.conn.commit()
            return result
        except BaseException:
            if not self.conn.closed:
                self.conn.rollback()
            raise

    def sql(self, statement: str, *args):
        with self.conn, self.conn.cursor() as cursor:
            cursor.execute(statement, args)
            return cursor.fetchall() if cursor.description else None

    def close(self) -> None:
        self.conn.close()


class InlineUserStore(UserStore):
    """``master.storage.db.users.UserStore`` with Argon2 in the calling thread (a worker thread
    reports back only through a running reactor): the same SQL, hashes and refusals."""

    def _argon2(self, work, *args):
        return self._hashing.run(maybeDeferred, work, *args)


@contextmanager
def scratch_database(prefix: str = "fctest", migrated: bool = True):
    """The DSN of a new database (migrated, unless not ``migrated``), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    migrations.ensure_database(dsn)
    try:
        if migrated:
            migrations.migrate(dsn)
        yield dsn
    finally:
        drop_database(name)
