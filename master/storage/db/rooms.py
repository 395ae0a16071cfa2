"""Chat rooms, their owners and members (U11).

A room belongs to the user who made it. Since a broadcaster's ``room:#R`` rule admits the
members of #R, membership needs the owner's consent: the owner's ``join`` and an invited
user's ``join`` succeed at once; anyone else's records a request the owner accepts (or
answers with an invitation). The owner can remove members, and stays the owner after
leaving.
"""

from __future__ import annotations

import enum

from common.errors import ErrorCode, RequestError
from common.messages.chat import ASKING_SHOWN, MemberAction, RoomRow
from master.storage.db.pool import Database, user_ids

MAX_OWNED_ROOMS = 100  # rooms one user may own


class Joined(enum.Enum):
    CREATED = "created"
    JOINED = "joined"
    ALREADY = "already"
    ASKED = "asked"


_PAGE = """
SELECT r.name, (SELECT COUNT(*) FROM room_members k WHERE k.room_id = r.id),
       EXISTS (SELECT 1 FROM room_members k WHERE k.room_id = r.id AND k.user_id = %(user)s),
       o.name, COALESCE(i.kind = 'invited', false), COALESCE(i.kind = 'asked', false),
       CASE WHEN r.owner_id = %(user)s THEN ARRAY(
           SELECT u.name FROM room_invites a JOIN users u ON u.id = a.user_id
           WHERE a.room_id = r.id AND a.kind = 'asked' ORDER BY a.created_at LIMIT %(asking)s)
       ELSE ARRAY[]::text[] END
FROM rooms r JOIN users o ON o.id = r.owner_id
LEFT JOIN room_invites i ON i.room_id = r.id AND i.user_id = %(user)s
WHERE r.name > %(after)s ORDER BY r.name LIMIT %(limit)s
"""


def _page_txn(cursor, user: str, after: str, limit: int) -> list[RoomRow]:
    (user_id,) = user_ids(cursor, user)
    cursor.execute(_PAGE, {"user": user_id, "after": after, "limit": limit, "asking": ASKING_SHOWN})
    return [RoomRow(*row[:6], tuple(row[6])) for row in cursor.fetchall()]


def _room(cursor, room: str) -> tuple[int, int, str] | None:
    """The room's id, its owner's id and name (None: no such room), locked for this
    transaction so that concurrent joins and answers see one another."""
    cursor.execute(
        "SELECT r.id, r.owner_id, o.name FROM rooms r JOIN users o ON o.id = r.owner_id WHERE r.name = %s FOR UPDATE",
        (room,),
    )
    return cursor.fetchone()


def _owned_room(cursor, owner_id: int, room: str) -> int:
    found = _room(cursor, room)
    if found is None:
        raise RequestError(ErrorCode.UNKNOWN_ROOM, f"there is no room {room}")
    room_id, room_owner, owner = found
    if room_owner != owner_id:
        raise RequestError(ErrorCode.ACCESS_REFUSED, f"only the owner of {room} ({owner}) decides who is in it")
    return room_id


def _add_member(cursor, room_id: int, user_id: int, now: float) -> bool:
    cursor.execute("DELETE FROM room_invites WHERE room_id = %s AND user_id = %s", (room_id, user_id))
    cursor.execute(
        "INSERT INTO room_members (room_id, user_id, joined_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (room_id, user_id, now),
    )
    return cursor.rowcount == 1


def _invitation(cursor, room_id: int, user_id: int) -> str | None:
    cursor.execute("SELECT kind FROM room_invites WHERE room_id = %s AND user_id = %s", (room_id, user_id))
    row = cursor.fetchone()
    return row[0] if row else None


def _record(cursor, room_id: int, user_id: int, kind: str, now: float) -> None:
    cursor.execute(
        "INSERT INTO room_invites (room_id, user_id, kind, created_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (room_id, user_id) DO UPDATE SET kind = EXCLUDED.kind, created_at = EXCLUDED.created_at",
        (room_id, user_id, kind, now),
    )


def _create(cursor, user_id: int, room: str, now: float) -> int | None:
    """Make the room, owned by ``user_id``; None if someone else made it meanwhile."""
    cursor.execute("SELECT COUNT(*) FROM rooms WHERE owner_id = %s", (user_id,))
    if cursor.fetchone()[0] >= MAX_OWNED_ROOMS:
        raise RequestError(ErrorCode.RATE_LIMITED, f"you own {MAX_OWNED_ROOMS} rooms already, the most one may own")
    cursor.execute(
        "INSERT INTO rooms (name, created_at, owner_id) VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
        (room, now, user_id),
    )
    row = cursor.fetchone()
    return row[0] if row else None


def _join_txn(cursor, user: str, room: str, now: float) -> tuple[Joined, str]:
    """Join (or make, or ask to join) a room; returns what happened and the owner."""
    (user_id,) = user_ids(cursor, user)
    found = _room(cursor, room)
    if found is None:
        room_id = _create(cursor, user_id, room, now)
        if room_id is not None:
            _add_member(cursor, room_id, user_id, now)
            return Joined.CREATED, user
        found = _room(cursor, room)
    room_id, owner_id, owner = found
    if owner_id == user_id or _invitation(cursor, room_id, user_id) == "invited":
        return (Joined.JOINED if _add_member(cursor, room_id, user_id, now) else Joined.ALREADY), owner
    cursor.execute("SELECT 1 FROM room_members WHERE room_id = %s AND user_id = %s", (room_id, user_id))
    if cursor.fetchone() is not None:
        return Joined.ALREADY, owner
    _record(cursor, room_id, user_id, "asked", now)
    return Joined.ASKED, owner


def _leave_txn(cursor, user: str, room: str) -> bool:
    (user_id,) = user_ids(cursor, user)
    cursor.execute(
        "DELETE FROM room_members WHERE user_id = %s AND room_id = (SELECT id FROM rooms WHERE name = %s)",
        (user_id, room),
    )
    return cursor.rowcount == 1


def _remove(cursor, room_id: int, user_id: int, kind: str | None, user: str, room: str) -> str:
    cursor.execute("DELETE FROM room_invites WHERE room_id = %s AND user_id = %s", (room_id, user_id))
    cursor.execute("DELETE FROM room_members WHERE room_id = %s AND user_id = %s", (room_id, user_id))
    if cursor.rowcount == 1:
        return f"removed {user} from {room}"
    if kind == "asked":
        return f"turned down {user}'s request to join {room}"
    if kind == "invited":
        return f"withdrew your invitation of {user} to {room}"
    raise RequestError(ErrorCode.NOT_A_MEMBER, f"{user} is not in {room}")


def _member_txn(cursor, owner: str, user: str, room: str, action: MemberAction, now: float) -> str:
    """The owner's decision about ``user``; returns what it did, in words."""
    owner_id, user_id = user_ids(cursor, owner, user)
    room_id = _owned_room(cursor, owner_id, room)
    if user_id == owner_id:
        raise RequestError(ErrorCode.BAD_USER, f"you own {room}: framecast join/leave {room} for yourself")
    kind = _invitation(cursor, room_id, user_id)
    if action == MemberAction.REMOVE:
        return _remove(cursor, room_id, user_id, kind, user, room)
    if kind == "asked":
        _add_member(cursor, room_id, user_id, now)
        return f"{user} is in {room}"
    if action == MemberAction.ACCEPT:
        raise RequestError(ErrorCode.NO_REQUEST, f"{user} has not asked to join {room}")
    cursor.execute("SELECT 1 FROM room_members WHERE room_id = %s AND user_id = %s", (room_id, user_id))
    if cursor.fetchone() is not None:
        return f"{user} is in {room} already"
    _record(cursor, room_id, user_id, "invited", now)
    return f"invited {user} to {room}: their framecast join {room} lets them in"


def _exists_txn(cursor, room: str) -> bool:
    cursor.execute("SELECT 1 FROM rooms WHERE name = %s", (room,))
    return cursor.fetchone() is not None


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

    async def page(self, user: str, after: str | None, limit: int) -> list[RoomRow]:
        """Up to ``limit`` rooms by name, after ``after``, as ``user`` sees them."""
        return await self.db.run(_page_txn, user, after or "", limit)

    async def exists(self, room: str) -> bool:
        return await self.db.run(_exists_txn, room)

    async def join(self, user: str, room: str, now: float) -> tuple[Joined, str]:
        return await self.db.run(_join_txn, user, room, now)

    async def leave(self, user: str, room: str) -> None:
        if not await self.db.run(_leave_txn, user, room):
            raise RequestError(ErrorCode.NOT_A_MEMBER, f"you are not in {room}")

    async def decide(self, owner: str, user: str, room: str, action: MemberAction, now: float) -> str:
        return await self.db.run(_member_txn, owner, user, room, action, now)

    async def members(self, room: str) -> set[str]:
        return await self.db.run(_members_txn, room)
