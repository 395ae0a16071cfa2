"""Each user's stored settings (U8), as JSON values under the keys of ``common.prefs``."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json

from common.prefs import with_defaults
from master.storage.db.pool import Database, user_ids


def _prefs_txn(cursor, user: str) -> dict[str, Any]:
    cursor.execute(
        "SELECT p.key, p.value FROM preferences p JOIN users u ON u.id = p.user_id WHERE u.name = %s", (user,)
    )
    return dict(cursor.fetchall())


def _set_txn(cursor, user: str, key: str, value: Any) -> None:
    (user_id,) = user_ids(cursor, user)
    cursor.execute(
        "INSERT INTO preferences (user_id, key, value) VALUES (%s, %s, %s)"
        " ON CONFLICT (user_id, key) DO UPDATE SET value = EXCLUDED.value",
        (user_id, key, Json(value)),
    )


class Preferences:
    def __init__(self, db: Database):
        self.db = db

    async def of(self, user: str) -> dict[str, Any]:
        """Every setting of the user, defaults filled in."""
        return with_defaults(await self.db.run(_prefs_txn, user))

    async def set(self, user: str, key: str, value: Any) -> None:
        await self.db.run(_set_txn, user, key, value)
