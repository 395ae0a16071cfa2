"""``Messages`` in memory: stored once whatever the retries, read back after an id or for
the history, as ``master.storage.db.messages`` keeps them. Ids come from one counter that, like
PostgreSQL's sequence, also moves on for a retry that stores nothing."""

from __future__ import annotations

from typing import Callable

from common.errors import ErrorCode, RequestError
from common.messages.chat import ChatLine, is_room
from master.storage.db.memory_database import MemoryDatabase, MessageRow, RoomRecord


def _line(row: MessageRow) -> ChatLine:
    return ChatLine(row.id, row.sender, row.room or row.recipient, row.body, row.sent_at)


def _room(db: MemoryDatabase, room: str, member: str) -> RoomRecord:
    found = db.rooms.get(room)
    if found is None:
        raise RequestError(ErrorCode.UNKNOWN_ROOM, f"there is no room {room}: framecast join {room} creates it")
    if member not in found.members:
        raise RequestError(ErrorCode.NOT_A_MEMBER, f"join {room} to write in it: framecast join {room}")
    return found


def _visible(db: MemoryDatabase, user: str, row: MessageRow) -> bool:
    """To or from ``user``, or in a room they are in (since they joined), but not from
    someone they ignore."""
    room = db.rooms.get(row.room) if row.room is not None else None
    joined = room.members.get(user) if room is not None else None
    mine = user in (row.recipient, row.sender) or (joined is not None and joined <= row.sent_at)
    return mine and not db.ignores(user, row.sender)


class MemoryMessages:
    def __init__(self, db: MemoryDatabase):
        self.db = db

    async def store(self, sender: str, to: str, text: str, client_id: str, now: float) -> tuple[ChatLine, list[str]]:
        db = self.db.up()
        db.known(sender)
        if is_room(to):
            members = _room(db, to, sender).members
            recipients, recipient, room = [m for m in members if not db.ignores(m, sender)], None, to
        else:
            db.known(to)
            if db.ignores(to, sender):
                raise RequestError(ErrorCode.ACCESS_REFUSED, f"{to} does not accept your messages")
            recipients, recipient, room = [to], to, None
        db.message_serial += 1
        row = MessageRow(db.message_serial, sender, recipient, room, text, now)
        row = db.messages.setdefault((sender, client_id), row)
        return _line(row), sorted(set(recipients) | {sender})

    async def after(self, user: str, after: int | None, limit: int = 1000) -> list[ChatLine]:
        db = self.db.up()
        db.known(user)
        if after is None:
            start = db.message_cursors.get(user, 0)
            return self._lines(user, lambda row: row.id > start and row.sender != user)[:limit]
        return self._lines(user, lambda row: row.id > after)[:limit]

    async def history(self, user: str, peer: str | None, limit: int) -> list[ChatLine]:
        db = self.db.up()
        db.known(user)
        if peer is None:
            lines = self._lines(user, lambda row: True)
        elif is_room(peer):
            lines = self._lines(user, lambda row: row.room == peer)
        else:
            db.known(peer)
            lines = self._lines(user, lambda row: row.room is None and peer in (row.sender, row.recipient))
        return lines[max(len(lines) - limit, 0) :]

    async def seen(self, user: str, up_to: int) -> None:
        db = self.db.up()
        db.known(user)
        db.message_cursors[user] = max(db.message_cursors.get(user, up_to), up_to)

    def _lines(self, user: str, keep: Callable[[MessageRow], bool]) -> list[ChatLine]:
        """The messages ``user`` may see that ``keep`` keeps, by id."""
        rows = sorted(self.db.messages.values(), key=lambda row: row.id)
        return [_line(row) for row in rows if keep(row) and _visible(self.db, user, row)]
