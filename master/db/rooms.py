"""Chat rooms and their members (U11)."""

from __future__ import annotations

from common.errors import ErrorCode, RequestError
from common.messages.chat import RoomRow
from master.db.pool import Database, user_ids


def _rooms_txn(cursor, user: str) -> list[RoomRow]:
    (user_id,) = user_ids(cursor, user)
    cursor.execute(
        "SELECT r.name, COUNT(k.user_id), COALESCE(BOOL_OR(k.user_id = %s), false)"
        " FROM rooms r LEFT JOIN room_members k ON k.room_id = r.id GROUP BY r.name ORDER BY r.name",
        (user_id,),
    )
    return [RoomRow(*row) for row in cursor.fetchall()]


def _join_txn(cursor, user: str, room: str, now: float) -> bool:
    (user_id,) = user_ids(cursor, user)
    cursor.execute("INSERT INTO rooms (name, created_at) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING", (room, now))
    cursor.execute(
        "INSERT INTO room_members (room_id, user_id, joined_at) SELECT id, %s, %s FROM rooms WHERE name = %s"
        " ON CONFLICT DO NOTHING",
        (user_id, now, room),
    )
    return cursor.rowcount == 1


def _leave_txn(cursor, user: str, room: str) -> bool:
    (user_id,) = user_ids(cursor, user)
    cursor.execute(
        "DELETE FROM room_members WHERE user_id = %s AND room_id = (SELECT id FROM rooms WHERE name = %s)",
        (user_id, room),
    )
    return cursor.rowcount == 1


def _members_txn(cursor, room: str) -> set[str]:
    cursor.execute(
        "SELECT u.name FROM room_members k JOIN rooms r ON r.id = k.room_id JOIN users u ON u.id = k.user_id"
        " WHERE r.name = %s",
        (room,),
    )
    return {row[0] for row in cursor.fetchall()}


class Rooms:
    def __init__(self, db: Database):
        self.db = db

    async def of(self, user: str) -> list[RoomRow]:
        return await self.db.run(_rooms_txn, user)

    async def join(self, user: str, room: str, now: float) -> bool:
        return await self.db.run(_join_txn, user, room, now)

    async def leave(self, user: str, room: str) -> None:
        if not await self.db.run(_leave_txn, user, room):
            raise RequestError(ErrorCode.NOT_A_MEMBER, f"you are not in {room}")

    async def members(self, room: str) -> set[str]:
        return await self.db.run(_members_txn, room)
