"""Friend lists, and each broadcaster's allow and ignore lists (U1, U3).

A friend list is one-sided: adding someone needs no consent, and a broadcaster's
``friends`` rule admits whoever she added. Presence is shown only between mutual friends
(each added the other), so adding a stranger shows nothing of them."""

from __future__ import annotations

from common.errors import ErrorCode, RequestError
from common.messages.social import AccessList
from master.storage.db.pool import Database, user_ids


def _change_friend_txn(cursor, user: str, friend: str, add: bool) -> bool:
    user_id, friend_id = user_ids(cursor, user, friend)
    if add:
        cursor.execute(
            "INSERT INTO friends (user_id, friend_id) VALUES (%s, %s) ON CONFLICT DO NOTHING", (user_id, friend_id)
        )
    else:
        cursor.execute("DELETE FROM friends WHERE user_id = %s AND friend_id = %s", (user_id, friend_id))
    return cursor.rowcount == 1


def _friends_txn(cursor, user: str) -> list[tuple[str, bool]]:
    cursor.execute(
        "SELECT f.name, EXISTS (SELECT 1 FROM friends back WHERE back.user_id = f.id AND back.friend_id = u.id)"
        " FROM friends JOIN users u ON u.id = friends.user_id JOIN users f ON f.id = friends.friend_id"
        " WHERE u.name = %s ORDER BY f.name",
        (user,),
    )
    return [(name, mutual) for name, mutual in cursor.fetchall()]


def _mutual_txn(cursor, user: str) -> list[str]:
    cursor.execute(
        "SELECT f.name FROM users u JOIN friends a ON a.user_id = u.id JOIN friends b"
        " ON b.user_id = a.friend_id AND b.friend_id = u.id JOIN users f ON f.id = a.friend_id WHERE u.name = %s",
        (user,),
    )
    return [row[0] for row in cursor.fetchall()]


def _change_list_txn(cursor, owner: str, user: str, access_list: str, add: bool) -> bool:
    owner_id, user_id = user_ids(cursor, owner, user)
    if add:
        cursor.execute(
            "INSERT INTO access_lists (owner_id, user_id, list) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (owner_id, user_id, access_list),
        )
    else:
        cursor.execute(
            "DELETE FROM access_lists WHERE owner_id = %s AND user_id = %s AND list = %s",
            (owner_id, user_id, access_list),
        )
    return cursor.rowcount == 1


def _ignores_txn(cursor, owner: str, user: str) -> bool:
    cursor.execute(
        "SELECT 1 FROM access_lists a JOIN users o ON o.id = a.owner_id JOIN users u ON u.id = a.user_id"
        " WHERE o.name = %s AND u.name = %s AND a.list = 'ignore'",
        (owner, user),
    )
    return cursor.fetchone() is not None


class Relations:
    def __init__(self, db: Database):
        self.db = db

    async def change_friend(self, user: str, friend: str, add: bool) -> bool:
        """Add or remove a friend; True if the list changed."""
        if user == friend:
            raise RequestError(ErrorCode.BAD_USER, "you cannot be your own friend")
        return await self.db.run(_change_friend_txn, user, friend, add)

    async def friends(self, user: str) -> list[str]:
        """Whom ``user`` added, by name."""
        return [name for name, _ in await self.friend_rows(user)]

    async def friend_rows(self, user: str) -> list[tuple[str, bool]]:
        """Whom ``user`` added, each with whether they added ``user`` too."""
        return await self.db.run(_friends_txn, user)

    async def mutual(self, user: str) -> list[str]:
        """Who and ``user`` added each other: they see each other's presence."""
        return await self.db.run(_mutual_txn, user)

    async def change_list(self, owner: str, user: str, access_list: AccessList, add: bool) -> bool:
        if owner == user:
            raise RequestError(ErrorCode.BAD_USER, f"you cannot put yourself on your {access_list} list")
        return await self.db.run(_change_list_txn, owner, user, access_list, add)

    async def ignores(self, owner: str, user: str) -> bool:
        return await self.db.run(_ignores_txn, owner, user)
