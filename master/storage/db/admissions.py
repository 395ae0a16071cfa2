"""What decides admissions besides the rules (U3-U7): invitations, view requests and their
answers, consent for one broadcast, and throws; and the facts the access policy reads."""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import ErrorCode, RequestError
from common.prefs import AccessKind, access_rule
from master.policy.access import Standing
from master.storage.db.pool import Database, user_ids

_STANDINGS = """
WITH t (name, session) AS (SELECT * FROM unnest(%s::text[], %s::text[]))
SELECT b.name, b.id = v.id,
       COALESCE(p.value #>> '{}', 'everyone'),
       EXISTS (SELECT 1 FROM friends f WHERE f.user_id = b.id AND f.friend_id = v.id),
       EXISTS (SELECT 1 FROM access_lists a WHERE a.owner_id = b.id AND a.user_id = v.id AND a.list = 'allow'),
       EXISTS (SELECT 1 FROM access_lists a WHERE a.owner_id = b.id AND a.user_id = v.id AND a.list = 'ignore'),
       (SELECT i.created_at FROM invites i WHERE i.from_id = b.id AND i.to_id = v.id),
       (SELECT g.granted_at FROM grants g
         WHERE g.broadcaster_id = b.id AND g.viewer_id = v.id AND g.session = t.session),
       th.thrown_at, th.until,
       EXISTS (SELECT 1 FROM room_members k JOIN rooms r ON r.id = k.room_id
               WHERE k.user_id = v.id AND 'room:' || r.name = p.value #>> '{}')
FROM t JOIN users b ON b.name = t.name JOIN users v ON v.name = %s
LEFT JOIN preferences p ON p.user_id = b.id AND p.key = 'access'
LEFT JOIN throws th ON th.broadcaster_id = b.id AND th.viewer_id = v.id
"""


@dataclass(frozen=True)
class ViewRequestRow:
    session: str
    created_at: float
    expires_at: float
    answer: str | None


def _rule(text: str) -> tuple[AccessKind, str | None]:
    try:
        return access_rule(text)
    except ValueError:
        return AccessKind.EVERYONE, None


def _standings_txn(cursor, viewer: str, targets: dict[str, str]) -> dict[str, Standing]:
    cursor.execute(_STANDINGS, (list(targets), list(targets.values()), viewer))
    standings = {}
    for name, me, rule, friend, allowed, ignored, invited, granted, thrown_at, until, member in cursor.fetchall():
        kind, room = _rule(rule)
        standings[name] = Standing(kind, room, me, friend, allowed, ignored, member, invited, granted, thrown_at, until)
    return standings


def _ask_txn(cursor, viewer: str, broadcaster: str, session: str, now: float, ttl: float):
    """The viewer's request to watch this broadcast: the one still open, or a new one."""
    viewer_id, broadcaster_id = user_ids(cursor, viewer, broadcaster)
    cursor.execute(
        "SELECT session, created_at, expires_at, answer FROM view_requests"
        " WHERE viewer_id = %s AND broadcaster_id = %s FOR UPDATE",
        (viewer_id, broadcaster_id),
    )
    row = cursor.fetchone()
    if row is not None and row[2] > now and row[0] == session:
        return ViewRequestRow(*row), False
    cursor.execute(
        "INSERT INTO view_requests (viewer_id, broadcaster_id, session, created_at, expires_at)"
        " VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (viewer_id, broadcaster_id) DO UPDATE SET session = EXCLUDED.session,"
        " created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, answer = NULL",
        (viewer_id, broadcaster_id, session, now, now + ttl),
    )
    return ViewRequestRow(session, now, now + ttl, None), True


def _answer_txn(cursor, broadcaster: str, viewer: str, accept: bool, now: float) -> None:
    viewer_id, broadcaster_id = user_ids(cursor, viewer, broadcaster)
    cursor.execute(
        "SELECT session, expires_at, answer FROM view_requests WHERE viewer_id = %s AND broadcaster_id = %s FOR UPDATE",
        (viewer_id, broadcaster_id),
    )
    row = cursor.fetchone()
    if row is None or row[2] is not None:
        raise RequestError(ErrorCode.NO_REQUEST, f"{viewer} has not asked to watch you")
    if row[1] <= now:
        raise RequestError(ErrorCode.REQUEST_EXPIRED, f"{viewer}'s request to watch you has expired")
    cursor.execute(
        "UPDATE view_requests SET answer = %s WHERE viewer_id = %s AND broadcaster_id = %s",
        ("accepted" if accept else "denied", viewer_id, broadcaster_id),
    )
    if accept:
        _grant(cursor, broadcaster_id, viewer_id, row[0], now)


def _grant(cursor, broadcaster_id: int, viewer_id: int, session: str, now: float) -> None:
    cursor.execute(
        "INSERT INTO grants (broadcaster_id, viewer_id, session, granted_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (broadcaster_id, viewer_id) DO UPDATE SET session = EXCLUDED.session,"
        " granted_at = EXCLUDED.granted_at",
        (broadcaster_id, viewer_id, session, now),
    )


def _open_asks_txn(cursor, broadcaster: str, now: float) -> list[tuple[str, float]]:
    cursor.execute(
        "SELECT v.name, r.expires_at FROM view_requests r JOIN users v ON v.id = r.viewer_id"
        " JOIN users b ON b.id = r.broadcaster_id WHERE b.name = %s AND r.answer IS NULL AND r.expires_at > %s"
        " ORDER BY r.created_at",
        (broadcaster, now),
    )
    return cursor.fetchall()


def _invite_txn(cursor, broadcaster: str, viewer: str, now: float) -> None:
    broadcaster_id, viewer_id = user_ids(cursor, broadcaster, viewer)
    cursor.execute(
        "INSERT INTO invites (from_id, to_id, created_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (from_id, to_id) DO UPDATE SET created_at = EXCLUDED.created_at",
        (broadcaster_id, viewer_id, now),
    )


def _decline_txn(cursor, viewer: str, broadcaster: str) -> bool:
    broadcaster_id, viewer_id = user_ids(cursor, broadcaster, viewer)
    cursor.execute("DELETE FROM invites WHERE from_id = %s AND to_id = %s", (broadcaster_id, viewer_id))
    return cursor.rowcount == 1


def _invitations_txn(cursor, viewer: str) -> list[str]:
    cursor.execute(
        "SELECT b.name FROM invites i JOIN users b ON b.id = i.from_id JOIN users v ON v.id = i.to_id"
        " WHERE v.name = %s ORDER BY i.created_at",
        (viewer,),
    )
    return [row[0] for row in cursor.fetchall()]


def _use_invitation_txn(cursor, broadcaster: str, viewer: str, session: str, now: float) -> None:
    """An invited viewer starts watching: the invitation becomes consent for this broadcast."""
    broadcaster_id, viewer_id = user_ids(cursor, broadcaster, viewer)
    cursor.execute("DELETE FROM invites WHERE from_id = %s AND to_id = %s", (broadcaster_id, viewer_id))
    _grant(cursor, broadcaster_id, viewer_id, session, now)


def _throw_txn(cursor, broadcaster: str, viewer: str, now: float, until: float) -> None:
    """The viewer is out: consent and invitations are withdrawn, and a ban starts."""
    broadcaster_id, viewer_id = user_ids(cursor, broadcaster, viewer)
    cursor.execute(
        "INSERT INTO throws (broadcaster_id, viewer_id, thrown_at, until) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (broadcaster_id, viewer_id) DO UPDATE SET thrown_at = EXCLUDED.thrown_at, until = EXCLUDED.until",
        (broadcaster_id, viewer_id, now, until),
    )
    for table, owner, other in (("grants", "broadcaster_id", "viewer_id"), ("invites", "from_id", "to_id")):
        cursor.execute(f"DELETE FROM {table} WHERE {owner} = %s AND {other} = %s", (broadcaster_id, viewer_id))
    cursor.execute(
        "DELETE FROM view_requests WHERE broadcaster_id = %s AND viewer_id = %s", (broadcaster_id, viewer_id)
    )


class Admissions:
    def __init__(self, db: Database):
        self.db = db

    async def standings(self, viewer: str, targets: dict[str, str]) -> dict[str, Standing]:
        """The facts of the access policy for one viewer and several broadcasts
        (broadcaster -> broadcast session), in one query."""
        return await self.db.run(_standings_txn, viewer, targets)

    async def ask(self, viewer: str, broadcaster: str, session: str, now: float, ttl: float):
        return await self.db.run(_ask_txn, viewer, broadcaster, session, now, ttl)

    async def answer(self, broadcaster: str, viewer: str, accept: bool, now: float) -> None:
        await self.db.run(_answer_txn, broadcaster, viewer, accept, now)

    async def open_asks(self, broadcaster: str, now: float) -> list[tuple[str, float]]:
        return await self.db.run(_open_asks_txn, broadcaster, now)

    async def invite(self, broadcaster: str, viewer: str, now: float) -> None:
        if broadcaster == viewer:
            raise RequestError(ErrorCode.BAD_USER, "you cannot invite yourself")
        await self.db.run(_invite_txn, broadcaster, viewer, now)

    async def decline(self, viewer: str, broadcaster: str) -> None:
        if not await self.db.run(_decline_txn, viewer, broadcaster):
            raise RequestError(ErrorCode.NO_INVITATION, f"{broadcaster} has not invited you")

    async def invitations(self, viewer: str) -> list[str]:
        return await self.db.run(_invitations_txn, viewer)

    async def use_invitation(self, broadcaster: str, viewer: str, session: str, now: float) -> None:
        await self.db.run(_use_invitation_txn, broadcaster, viewer, session, now)

    async def throw(self, broadcaster: str, viewer: str, now: float, until: float) -> None:
        await self.db.run(_throw_txn, broadcaster, viewer, now, until)
