"""Instant messages (U10): stored before they are accepted, so none is ever lost, and read
back for a session that missed some, and for the history."""

from __future__ import annotations

from common.errors import ErrorCode, RequestError
from common.messages.chat import ChatLine, is_room
from master.storage.db.pool import Database, user_ids

_LINE = """
SELECT m.id, s.name, COALESCE(r.name, t.name), m.body, m.sent_at
FROM messages m JOIN users s ON s.id = m.sender_id
LEFT JOIN users t ON t.id = m.recipient_id LEFT JOIN rooms r ON r.id = m.room_id
"""
# Messages a user may see: to or from them, or in a room they are in (since they joined),
# but not from someone they ignore.
_VISIBLE = """
(m.recipient_id = %(user)s OR m.sender_id = %(user)s
 OR m.room_id IN (SELECT k.room_id FROM room_members k WHERE k.user_id = %(user)s AND k.joined_at <= m.sent_at))
AND NOT EXISTS (SELECT 1 FROM access_lists a WHERE a.owner_id = %(user)s AND a.user_id = m.sender_id
                AND a.list = 'ignore')
"""


def _room_id(cursor, room: str, member_id: int) -> int:
    cursor.execute(
        "SELECT r.id, EXISTS (SELECT 1 FROM room_members k WHERE k.room_id = r.id AND k.user_id = %s)"
        " FROM rooms r WHERE r.name = %s",
        (member_id, room),
    )
    row = cursor.fetchone()
    if row is None:
        raise RequestError(ErrorCode.UNKNOWN_ROOM, f"there is no room {room}: framecast join {room} creates it")
    if not row[1]:
        raise RequestError(ErrorCode.NOT_A_MEMBER, f"join {room} to write in it: framecast join {room}")
    return row[0]


def _recipients(cursor, sender_id: int, room_id: int) -> list[str]:
    """A room's members who do not ignore the sender."""
    cursor.execute(
        "SELECT u.name FROM room_members k JOIN users u ON u.id = k.user_id WHERE k.room_id = %s"
        " AND NOT EXISTS (SELECT 1 FROM access_lists a WHERE a.owner_id = k.user_id AND a.user_id = %s"
        " AND a.list = 'ignore')",
        (room_id, sender_id),
    )
    return [row[0] for row in cursor.fetchall()]


def _store_txn(cursor, sender: str, to: str, text: str, client_id: str, now: float) -> tuple[ChatLine, list[str]]:
    """Store a message (once, whatever the retries); returns it and who receives it."""
    (sender_id,) = user_ids(cursor, sender)
    if is_room(to):
        room_id, recipient_id = _room_id(cursor, to, sender_id), None
        recipients = _recipients(cursor, sender_id, room_id)
    else:
        (recipient_id,) = user_ids(cursor, to)
        room_id, recipients = None, [to]
        cursor.execute(
            "SELECT 1 FROM access_lists WHERE owner_id = %s AND user_id = %s AND list = 'ignore'",
            (recipient_id, sender_id),
        )
        if cursor.fetchone() is not None:
            raise RequestError(ErrorCode.ACCESS_REFUSED, f"{to} does not accept your messages")
    cursor.execute(
        "INSERT INTO messages (sender_id, recipient_id, room_id, body, sent_at, client_id)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sender_id, client_id) DO NOTHING",
        (sender_id, recipient_id, room_id, text, now, client_id),
    )
    cursor.execute(_LINE + " WHERE m.sender_id = %s AND m.client_id = %s", (sender_id, client_id))
    return ChatLine(*cursor.fetchone()), sorted(set(recipients) | {sender})


def _after_txn(cursor, user: str, after: int | None, limit: int) -> list[ChatLine]:
    """What ``user`` has not seen: messages after ``after``, or, if None, after the last one
    a session of theirs showed (then without their own)."""
    (user_id,) = user_ids(cursor, user)
    own = ""
    if after is None:
        cursor.execute("SELECT last_seen FROM message_cursors WHERE user_id = %s", (user_id,))
        row = cursor.fetchone()
        after, own = (row[0] if row else 0), " AND m.sender_id <> %(user)s"
    cursor.execute(
        _LINE + " WHERE m.id > %(after)s AND " + _VISIBLE + own + " ORDER BY m.id LIMIT %(limit)s",
        {"user": user_id, "after": after, "limit": limit},
    )
    return [ChatLine(*row) for row in cursor.fetchall()]


def _history_txn(cursor, user: str, peer: str | None, limit: int) -> list[ChatLine]:
    (user_id,) = user_ids(cursor, user)
    params = {"user": user_id, "limit": limit}
    where = _VISIBLE
    if peer is not None and is_room(peer):
        where += " AND r.name = %(peer)s"
        params["peer"] = peer
    elif peer is not None:
        (params["peer"],) = user_ids(cursor, peer)
        where += " AND %(peer)s IN (m.sender_id, m.recipient_id) AND m.room_id IS NULL"
    cursor.execute(_LINE + " WHERE " + where + " ORDER BY m.id DESC LIMIT %(limit)s", params)
    return [ChatLine(*row) for row in reversed(cursor.fetchall())]


def _seen_txn(cursor, user: str, up_to: int) -> None:
    (user_id,) = user_ids(cursor, user)
    cursor.execute(
        "INSERT INTO message_cursors (user_id, last_seen) VALUES (%s, %s) ON CONFLICT (user_id)"
        " DO UPDATE SET last_seen = GREATEST(message_cursors.last_seen, EXCLUDED.last_seen)",
        (user_id, up_to),
    )


class Messages:
    def __init__(self, db: Database):
        self.db = db

    async def store(self, sender: str, to: str, text: str, client_id: str, now: float) -> tuple[ChatLine, list[str]]:
        return await self.db.run(_store_txn, sender, to, text, client_id, now)

    async def after(self, user: str, after: int | None, limit: int = 1000) -> list[ChatLine]:
        return await self.db.run(_after_txn, user, after, limit)

    async def history(self, user: str, peer: str | None, limit: int) -> list[ChatLine]:
        return await self.db.run(_history_txn, user, peer, limit)

    async def seen(self, user: str, up_to: int) -> None:
        await self.db.run(_seen_txn, user, up_to)
