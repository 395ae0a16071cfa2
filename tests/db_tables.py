"""The master's PostgreSQL tables twice, for one suite (``tests/test_db_*.py``): the real
classes of ``master.storage.db`` on a scratch database (one per test module, emptied between
tests), and their in-memory fakes. A test takes the ``tables`` fixture and runs once with
each; every assertion must hold for both, which keeps the fakes honest.

Import the fixtures into a test module: ``from tests.db_tables import scratch, tables``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

import psycopg2
import pytest
from argon2 import PasswordHasher
from twisted.internet.defer import ensureDeferred
from twisted.python.failure import Failure

from common.errors import ErrorCode, RequestError
from master.storage.db.admissions import Admissions
from master.storage.db.memory_admissions import MemoryAdmissions
from master.storage.db.memory_database import MemoryDatabase
from master.storage.db.memory_messages import MemoryMessages
from master.storage.db.memory_preferences import MemoryPreferences
from master.storage.db.memory_relations import MemoryRelations
from master.storage.db.memory_rooms import MemoryRooms
from master.storage.db.memory_users import MemoryUserStore, cheap_hasher
from master.storage.db.messages import Messages
from master.storage.db.preferences import Preferences
from master.storage.db.relations import Relations
from master.storage.db.rooms import Rooms
from tests.conftest import PG_ADMIN
from tests.databases import InlineDatabase, InlineUserStore, scratch_database

HASHER = cheap_hasher()
NOWHERE = "postgresql://postgres@127.0.0.1:1/none"  # nothing listens there: every connection fails


@dataclass
class Tables:
    """One implementation of every table, and what tests do beside it: ``users_with`` is
    a user store of another hasher; ``update_user`` sets a column of a user's row and
    ``password_hash`` reads one (SQL for the real tables); ``outage`` loses the database."""

    kind: str
    users: Any
    relations: Any
    preferences: Any
    admissions: Any
    messages: Any
    rooms: Any
    users_with: Callable[[PasswordHasher], Any]
    update_user: Callable[[str, str, Any], None]
    password_hash: Callable[[str], str]
    outage: Callable[[], ContextManager[None]]


def memory_tables() -> Tables:
    db = MemoryDatabase()

    def update_user(name: str, column: str, value: Any) -> None:
        setattr(db.users[name], column, value)

    @contextmanager
    def outage():
        db.available = False
        try:
            yield
        finally:
            db.available = True

    return Tables(
        "memory",
        MemoryUserStore(db, HASHER),
        MemoryRelations(db),
        MemoryPreferences(db),
        MemoryAdmissions(db),
        MemoryMessages(db),
        MemoryRooms(db),
        lambda hasher: MemoryUserStore(db, hasher),
        update_user,
        lambda name: db.users[name].password_hash,
        outage,
    )


def postgres_tables(db: InlineDatabase) -> Tables:
    def update_user(name: str, column: str, value: Any) -> None:
        db.sql(f"UPDATE users SET {column} = %s WHERE name = %s", value, name)

    @contextmanager
    def outage():
        """The connection is lost, and every new one fails until the end."""
        dsn, db.dsn = db.dsn, NOWHERE
        admin = psycopg2.connect(PG_ADMIN)
        with admin, admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (db.conn.get_backend_pid(),))
        admin.close()
        try:
            yield
        finally:
            db.dsn = dsn
            db.conn.close()
            db.conn = psycopg2.connect(dsn)

    return Tables(
        "postgres",
        InlineUserStore(db, HASHER),
        Relations(db),
        Preferences(db),
        Admissions(db),
        Messages(db),
        Rooms(db),
        lambda hasher: InlineUserStore(db, hasher),
        update_user,
        lambda name: db.sql("SELECT password_hash FROM users WHERE name = %s", name)[0][0],
        outage,
    )


@pytest.fixture(scope="module")
def scratch():
    """One migrated scratch database for the test module; its commits do not wait for the
    disk (nothing here outlives the test)."""
    with scratch_database("fctest_tables") as dsn:
        db = InlineDatabase(dsn)
        db.sql(f"ALTER DATABASE {dsn.rsplit('/', 1)[1]} SET synchronous_commit = off")
        db.sql("SET synchronous_commit = off")
        yield db
        db.close()


@pytest.fixture(params=["memory", "postgres"])
def tables(request) -> Tables:
    """Empty tables of each kind."""
    if request.param == "memory":
        return memory_tables()
    return postgres_tables(emptied(request.getfixturevalue("scratch")))


def emptied(db: InlineDatabase) -> InlineDatabase:
    """The scratch database without rows, its ids starting at 1 again."""
    db.sql("DELETE FROM users")  # every other table's rows go with their users
    db.sql("SELECT setval(pg_get_serial_sequence(t, 'id'), 1, false) FROM unnest(%s) t", ["users", "rooms", "messages"])
    return db


def run(coro) -> Any:
    """The result of a table's method. Both kinds finish at once (the real ones run inline),
    so no reactor is needed; a method that waits for one fails the test."""
    done: list = []
    ensureDeferred(coro).addBoth(done.append)
    assert done, "the method waited for a reactor"
    if isinstance(done[0], Failure):
        done[0].raiseException()
    return done[0]


def refused(coro, code: ErrorCode) -> str:
    """The message of the refusal ``coro`` ends in, which must have ``code``."""
    with pytest.raises(RequestError) as caught:
        run(coro)
    assert caught.value.code == code, caught.value.message
    return caught.value.message


def register(tables: Tables, *names: str) -> None:
    for name in names:
        run(tables.users.register(name, f"password-{name}"))
