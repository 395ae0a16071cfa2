"""``Relations`` in memory: friend lists and the allow and ignore lists, as
``master.storage.db.relations`` keeps them."""

from __future__ import annotations

from common.errors import ErrorCode, RequestError
from common.messages.social import AccessList
from master.storage.db.memory_database import MemoryDatabase


def _change(rows: set, row: tuple, add: bool) -> bool:
    """Add or remove ``row``; True if ``rows`` changed (the rowcount of the real SQL)."""
    changed = (row in rows) != add
    if add:
        rows.add(row)
    else:
        rows.discard(row)
    return changed


class MemoryRelations:
    def __init__(self, db: MemoryDatabase):
        self.db = db

    async def change_friend(self, user: str, friend: str, add: bool) -> bool:
        if user == friend:
            raise RequestError(ErrorCode.BAD_USER, "you cannot be your own friend")
        db = self.db.up()
        db.known(user, friend)
        return _change(db.friends, (user, friend), add)

    async def friends(self, user: str) -> list[str]:
        return [name for name, _ in await self.friend_rows(user)]

    async def friend_rows(self, user: str) -> list[tuple[str, bool]]:
        friends = self.db.up().friends
        added = sorted(friend for owner, friend in friends if owner == user)
        return [(name, (name, user) in friends) for name in added]

    async def mutual(self, user: str) -> list[str]:
        """In name order (PostgreSQL's order is unspecified: callers must not rely on one)."""
        return [name for name, mutual in await self.friend_rows(user) if mutual]

    async def change_list(self, owner: str, user: str, access_list: AccessList, add: bool) -> bool:
        if owner == user:
            raise RequestError(ErrorCode.BAD_USER, f"you cannot put yourself on your {access_list} list")
        db = self.db.up()
        db.known(owner, user)
        return _change(db.access_lists, (owner, str(access_list), user), add)

    async def ignores(self, owner: str, user: str) -> bool:
        return self.db.up().ignores(owner, user)
