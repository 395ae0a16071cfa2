"""The master's PostgreSQL tables as one bundle, which the node wires into its services:
on a ``Database`` in a master (``DatabaseTables.on``), or their in-memory fakes in tests."""

from __future__ import annotations

from dataclasses import dataclass

from master.storage.db.admissions import Admissions
from master.storage.db.messages import Messages
from master.storage.db.pool import Database
from master.storage.db.preferences import Preferences
from master.storage.db.relations import Relations
from master.storage.db.rooms import Rooms
from master.storage.db.users import UserStore


@dataclass(frozen=True)
class DatabaseTables:
    users: UserStore
    relations: Relations
    preferences: Preferences
    admissions: Admissions
    messages: Messages
    rooms: Rooms

    @classmethod
    def on(cls, db: Database | None) -> DatabaseTables:
        """The tables on ``db`` (None: no database, for parts that never reach one)."""
        return cls(UserStore(db), Relations(db), Preferences(db), Admissions(db), Messages(db), Rooms(db))
