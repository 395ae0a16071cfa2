"""PostgreSQL for in-process tests: scratch databases migrated with ``master/storage/sql``, and the
master's ``Database`` without its thread pool, so tests need no running reactor."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import psycopg2

from master.storage import migrations
from master.storage.db.pool import Database
from tests.conftest import PG_ADMIN, drop_database


class InlineDatabase(Database):
    """``master.storage.db.pool.Database`` with each transaction run on one connection in the
    calling thread: the same SQL and the same refusals, no thread pool."""

    def __init__(self, dsn: str):
        self.conn = psycopg2.connect(dsn)

    async def interact(self, txn, *args):
        with self.conn, self.conn.cursor() as cursor:
            return txn(cursor, *args)

    def sql(self, statement: str, *args):
        with self.conn, self.conn.cursor() as cursor:
            cursor.execute(statement, args)
            return cursor.fetchall() if cursor.description else None

    def close(self) -> None:
        self.conn.close()


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
