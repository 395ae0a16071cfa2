"""Flood limits: how often one client address or one user may try to log in or register,
how often a user may ask to watch, invite, throw, decline, ask for the status or the live
list, make rooms, ask to join them, and name users who do not exist; and how many viewer
sessions a user may hold open.

Counted in the store, so every master shares them (the generic cell rate algorithm of
``common.ratelimit``). Addresses are the clients' own when HAProxy passes them (PROXY
protocol, ``--proxy-protocol``); messages have their own limit (``master/chat.py``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, TypeVar

from common.errors import ErrorCode, RequestError
from common.messages.accounts import LoginToken
from master.store import stored

if TYPE_CHECKING:
    from master.node import Master


class Flood(enum.StrEnum):
    LOGIN_ADDRESS = "login-address"
    LOGIN_USER = "login-user"
    REGISTER_ADDRESS = "register-address"
    VIEW_USER = "view-user"
    STATUS_USER = "status-user"
    LIVE_USER = "live-user"
    INVITE_USER = "invite-user"
    THROW_USER = "throw-user"
    DECLINE_USER = "decline-user"
    ROOM_CREATE = "room-create"
    ROOM_ASK = "room-ask"
    UNKNOWN_NAME = "unknown-name"


@dataclass(frozen=True)
class Limit:
    rate: float  # a second, on average
    burst: int
    what: str  # for the refusal: "too many {what}"


LIMITS = {
    Flood.LOGIN_ADDRESS: Limit(5.0, 60, "logins from your address"),
    Flood.LOGIN_USER: Limit(1.0, 20, "logins as this user"),
    Flood.REGISTER_ADDRESS: Limit(2.0, 60, "registrations from your address"),
    Flood.VIEW_USER: Limit(2.0, 30, "requests to watch"),
    Flood.STATUS_USER: Limit(2.0, 20, "status requests"),
    Flood.LIVE_USER: Limit(2.0, 20, "live lists"),
    Flood.INVITE_USER: Limit(0.5, 20, "invitations"),
    Flood.THROW_USER: Limit(1.0, 20, "throws and removals"),
    Flood.DECLINE_USER: Limit(1.0, 20, "declines"),
    Flood.ROOM_CREATE: Limit(1 / 60, 10, "new rooms"),
    Flood.ROOM_ASK: Limit(0.2, 10, "requests to join rooms"),
    Flood.UNKNOWN_NAME: Limit(1 / 30, 20, "names of users who do not exist"),
}
MAX_VIEWER_SESSIONS = 20
T = TypeVar("T")  # one user's open viewer sessions, on all slaves


class Floods:
    def __init__(self, master: "Master", limits: dict[Flood, Limit] | None = None):
        self.master = master
        self.limits = limits or LIMITS

    async def check(self, flood: Flood, who: str, count: bool = True) -> None:
        """Count one attempt of ``who``; refuse it (with the wait) when over the limit.
        ``count`` False: refuse if over the limit, but count nothing."""
        limit = self.limits[flood]
        master = self.master
        wait = await stored(master.store.limit(f"{flood}:{who}", master.clock(), limit.rate, limit.burst, count))
        if wait > 0:
            raise RequestError(ErrorCode.RATE_LIMITED, f"too many {limit.what}; try again in {math.ceil(wait)} s")

    async def naming(self, who: str, request: Callable[[], Awaitable[T]]) -> T:
        """Carry out a request of ``who`` that names a user, so may answer "no such user".

        Those answers are counted; once ``who`` has had too many, every such request is
        refused until the limit allows one again, whether the name exists or not, so a
        refusal says nothing about the name and names cannot be tried in bulk."""
        await self.check(Flood.UNKNOWN_NAME, who, count=False)
        try:
            return await request()
        except RequestError as exc:
            if exc.code == ErrorCode.UNKNOWN_USER:
                await self.check(Flood.UNKNOWN_NAME, who)
            raise

    async def login(self, address: str, user: str, password: str) -> LoginToken:
        """A login, counted against the address it came from and the user it names."""
        await self.check(Flood.LOGIN_ADDRESS, address)
        await self.check(Flood.LOGIN_USER, user)
        return await self.master.accounts.login(user, password)


def check_viewer_sessions(open_sessions: int) -> None:
    if open_sessions >= MAX_VIEWER_SESSIONS:
        raise RequestError(
            ErrorCode.TOO_MANY_SESSIONS,
            f"you have {open_sessions} viewer sessions open (at most {MAX_VIEWER_SESSIONS})",
        )
