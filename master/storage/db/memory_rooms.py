"""``Rooms`` in memory: chat rooms, their owners, members, invitations and requests to
join, as ``master.storage.db.rooms`` keeps them. Pages are in code-point order of the names, the
order of the C collation the test databases use."""

from __future__ import annotations

from common.errors import ErrorCode, RequestError
from common.messages.chat import ASKING_SHOWN, MemberAction, RoomRow
from master.storage.db.memory_database import MemoryDatabase, RoomRecord
from master.storage.db.rooms import MAX_OWNED_ROOMS, Joined


def _kind(room: RoomRecord, user: str) -> str | None:
    """"invited", "asked" or None: the row of ``room_invites`` for ``user``."""
    found = room.invites.get(user)
    return found[0] if found else None


def _add_member(room: RoomRecord, user: str, now: float) -> bool:
    room.invites.pop(user, None)
    if user in room.members:
        return False
    room.members[user] = now
    return True


def _row(name: str, room: RoomRecord, user: str) -> RoomRow:
    asking = ()
    if room.owner == user:
        asked = [(created_at, who) for who, (kind, created_at) in room.invites.items() if kind == "asked"]
        asking = tuple(who for _, who in sorted(asked, key=lambda row: row[0])[:ASKING_SHOWN])
    kind = _kind(room, user)
    joined = user in room.members
    return RoomRow(name, len(room.members), joined, room.owner, kind == "invited", kind == "asked", asking)


def _remove(room: RoomRecord, name: str, user: str, kind: str | None) -> str:
    room.invites.pop(user, None)
    if room.members.pop(user, None) is not None:
        return f"removed {user} from {name}"
    if kind == "asked":
        return f"turned down {user}'s request to join {name}"
    if kind == "invited":
        return f"withdrew your invitation of {user} to {name}"
    raise RequestError(ErrorCode.NOT_A_MEMBER, f"{user} is not in {name}")


class MemoryRooms:
    def __init__(self, db: MemoryDatabase):
        self.db = db

    async def page(self, user: str, after: str | None, limit: int) -> list[RoomRow]:
        db = self.db.up()
        db.known(user)
        names = sorted(name for name in db.rooms if name > (after or ""))[:limit]
        return [_row(name, db.rooms[name], user) for name in names]

    async def exists(self, room: str) -> bool:
        return room in self.db.up().rooms

    async def join(self, user: str, room: str, now: float) -> tuple[Joined, str]:
        db = self.db.up()
        db.known(user)
        found = db.rooms.get(room)
        if found is None:
            if sum(r.owner == user for r in db.rooms.values()) >= MAX_OWNED_ROOMS:
                raise RequestError(
                    ErrorCode.RATE_LIMITED, f"you own {MAX_OWNED_ROOMS} rooms already, the most one may own"
                )
            db.rooms[room] = RoomRecord(user, now, {user: now})
            return Joined.CREATED, user
        if found.owner == user or _kind(found, user) == "invited":
            return (Joined.JOINED if _add_member(found, user, now) else Joined.ALREADY), found.owner
        if user in found.members:
            return Joined.ALREADY, found.owner
        found.invites[user] = ("asked", now)
        return Joined.ASKED, found.owner

    async def leave(self, user: str, room: str) -> None:
        db = self.db.up()
        db.known(user)
        found = db.rooms.get(room)
        if found is None or found.members.pop(user, None) is None:
            raise RequestError(ErrorCode.NOT_A_MEMBER, f"you are not in {room}")

    async def decide(self, owner: str, user: str, room: str, action: MemberAction, now: float) -> str:
        db = self.db.up()
        db.known(owner, user)
        found = self._owned(owner, room)
        if user == owner:
            raise RequestError(ErrorCode.BAD_USER, f"you own {room}: framecast join/leave {room} for yourself")
        kind = _kind(found, user)
        if action == MemberAction.REMOVE:
            return _remove(found, room, user, kind)
        if kind == "asked":
            _add_member(found, user, now)
            return f"{user} is in {room}"
        if action == MemberAction.ACCEPT:
            raise RequestError(ErrorCode.NO_REQUEST, f"{user} has not asked to join {room}")
        if user in found.members:
            return f"{user} is in {room} already"
        found.invites[user] = ("invited", now)
        return f"invited {user} to {room}: their framecast join {room} lets them in"

    async def members(self, room: str) -> set[str]:
        found = self.db.up().rooms.get(room)
        return set(found.members) if found else set()

    def _owned(self, owner: str, room: str) -> RoomRecord:
        found = self.db.rooms.get(room)
        if found is None:
            raise RequestError(ErrorCode.UNKNOWN_ROOM, f"there is no room {room}")
        if found.owner != owner:
            refusal = f"only the owner of {room} ({found.owner}) decides who is in it"
            raise RequestError(ErrorCode.ACCESS_REFUSED, refusal)
        return found
