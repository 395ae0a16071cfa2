"""``Admissions`` in memory: invitations, view requests and their answers, consent for
one broadcast, throws, and the standings the access policy reads, as
``master.storage.db.admissions`` keeps them. Rows of equal times are listed in the order they were
first made; PostgreSQL's order among them is unspecified, so callers must not rely on one."""

from __future__ import annotations

from common.errors import ErrorCode, RequestError
from common.prefs import AccessKind, access_rule
from master.policy.access import Standing
from master.storage.db.admissions import ViewRequestRow
from master.storage.db.memory_database import MemoryDatabase


class MemoryAdmissions:
    def __init__(self, db: MemoryDatabase):
        self.db = db

    async def standings(self, viewer: str, targets: dict[str, str]) -> dict[str, Standing]:
        db = self.db.up()
        if viewer not in db.users:
            return {}
        return {name: self._standing(viewer, name, session) for name, session in targets.items() if name in db.users}

    def _standing(self, viewer: str, broadcaster: str, session: str) -> Standing:
        db, pair = self.db, (broadcaster, viewer)
        rule = db.preferences.get(broadcaster, {}).get("access")
        rule = rule if isinstance(rule, str) else "everyone"  # a JSON non-string is no rule
        kind, room = _rule(rule)
        in_room = rule.startswith("room:") and viewer in _members(db, rule[5:])
        granted = db.grants.get(pair)
        thrown_at, until = db.throws.get(pair, (None, None))
        return Standing(
            kind,
            room,
            broadcaster == viewer,
            pair in db.friends,
            (broadcaster, "allow", viewer) in db.access_lists,
            db.ignores(broadcaster, viewer),
            in_room,
            db.invites.get(pair),
            granted[1] if granted and granted[0] == session else None,
            thrown_at,
            until,
        )

    async def ask(self, viewer: str, broadcaster: str, session: str, now: float, ttl: float):
        db = self.db.up()
        db.known(viewer, broadcaster)
        row = db.view_requests.get((viewer, broadcaster))
        if row is not None and row.expires_at > now and row.session == session:
            return row, False
        row = db.view_requests[viewer, broadcaster] = ViewRequestRow(session, now, now + ttl, None)
        return row, True

    async def answer(self, broadcaster: str, viewer: str, accept: bool, now: float) -> None:
        db = self.db.up()
        db.known(viewer, broadcaster)
        row = db.view_requests.get((viewer, broadcaster))
        if row is None or row.answer is not None:
            raise RequestError(ErrorCode.NO_REQUEST, f"{viewer} has not asked to watch you")
        if row.expires_at <= now:
            raise RequestError(ErrorCode.REQUEST_EXPIRED, f"{viewer}'s request to watch you has expired")
        answer = "accepted" if accept else "denied"
        db.view_requests[viewer, broadcaster] = ViewRequestRow(row.session, row.created_at, row.expires_at, answer)
        if accept:
            db.grants[broadcaster, viewer] = (row.session, now)

    async def open_asks(self, broadcaster: str, now: float) -> list[tuple[str, float]]:
        rows = self.db.up().view_requests.items()
        open_rows = [(r.created_at, v, r.expires_at) for (v, b), r in rows if b == broadcaster and _open(r, now)]
        return [(viewer, expires_at) for _, viewer, expires_at in sorted(open_rows, key=lambda row: row[0])]

    async def invite(self, broadcaster: str, viewer: str, now: float) -> None:
        if broadcaster == viewer:
            raise RequestError(ErrorCode.BAD_USER, "you cannot invite yourself")
        db = self.db.up()
        db.known(broadcaster, viewer)
        db.invites[broadcaster, viewer] = now

    async def decline(self, viewer: str, broadcaster: str) -> None:
        db = self.db.up()
        db.known(broadcaster, viewer)
        if db.invites.pop((broadcaster, viewer), None) is None:
            raise RequestError(ErrorCode.NO_INVITATION, f"{broadcaster} has not invited you")

    async def invitations(self, viewer: str) -> list[str]:
        rows = [(created_at, b) for (b, v), created_at in self.db.up().invites.items() if v == viewer]
        return [broadcaster for _, broadcaster in sorted(rows, key=lambda row: row[0])]

    async def use_invitation(self, broadcaster: str, viewer: str, session: str, now: float) -> None:
        db = self.db.up()
        db.known(broadcaster, viewer)
        db.invites.pop((broadcaster, viewer), None)
        db.grants[broadcaster, viewer] = (session, now)

    async def throw(self, broadcaster: str, viewer: str, now: float, until: float) -> None:
        db = self.db.up()
        db.known(broadcaster, viewer)
        db.throws[broadcaster, viewer] = (now, until)
        db.grants.pop((broadcaster, viewer), None)
        db.invites.pop((broadcaster, viewer), None)
        db.view_requests.pop((viewer, broadcaster), None)


def _rule(text: str) -> tuple[AccessKind, str | None]:
    """The broadcaster's rule; one no longer valid means everyone, as in the real query."""
    try:
        return access_rule(text)
    except ValueError:
        return AccessKind.EVERYONE, None


def _open(row: ViewRequestRow, now: float) -> bool:
    return row.answer is None and row.expires_at > now


def _members(db: MemoryDatabase, room: str) -> dict[str, float]:
    found = db.rooms.get(room)
    return found.members if found else {}
