"""``Preferences`` in memory: each value goes through JSON as it would through JSONB, so
a test reads back what PostgreSQL would give (lists for tuples, string keys)."""

from __future__ import annotations

import json
from typing import Any

from common.prefs import with_defaults
from master.storage.db.memory_database import MemoryDatabase


class MemoryPreferences:
    def __init__(self, db: MemoryDatabase):
        self.db = db

    async def of(self, user: str) -> dict[str, Any]:
        return with_defaults(dict(self.db.up().preferences.get(user, {})))

    async def set(self, user: str, key: str, value: Any) -> None:
        db = self.db.up()
        db.known(user)
        db.preferences.setdefault(user, {})[key] = json.loads(json.dumps(value))
