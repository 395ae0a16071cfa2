"""Flood limits: how often one client address or one user may try to log in or register,
how often a user may ask to watch, invite, throw, decline, ask for the status or the live
list, make rooms, ask to join them, and name users who do not exist; and how many viewer
sessions a user may hold open.

Logins count attempts per address (each costs an Argon2 check) and *failures*: per address
and user, and per address for any user, both refused past their burst; and per user from
anywhere, which never refuses, only slows each login as that user by at most
``MAX_LOGIN_DELAY`` seconds. So wrong passwords sent from elsewhere cannot lock a user out:
her right password, from an address of her own, is answered at most that much later.

Counted in the store, so every master shares them (the generic cell rate algorithm of
``common.ratelimit``). Addresses are the clients' own when HAProxy passes them (PROXY
protocol, ``--proxy-protocol``); messages have their own limit (``master/chat.py``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, TypeVar

from twisted.internet.task import deferLater

from common.errors import ErrorCode, RequestError
from common.messages.accounts import LoginToken
from master.storage.store import stored

if TYPE_CHECKING:
    from master.node import Master


class Flood(enum.StrEnum):
    LOGIN_ADDRESS = "login-address"
    FAILED_LOGIN_PAIR = "failed-login-pair"  # one address, one user
    FAILED_LOGIN_ADDRESS = "failed-login-address"  # one address, any user
    FAILED_LOGIN_USER = "failed-login-user"  # one user, any address: slows, never refuses
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
    Flood.FAILED_LOGIN_PAIR: Limit(0.1, 10, "failed logins as this user from your address"),
    Flood.FAILED_LOGIN_ADDRESS: Limit(0.5, 30, "failed logins from your address"),
    Flood.FAILED_LOGIN_USER: Limit(0.5, 20, "failed logins as this user"),
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
MAX_VIEWER_SESSIONS = 20  # one user's open viewer sessions, on all slaves
MAX_LOGIN_DELAY = 2.0  # seconds others' failed logins may hold back a login as the same user
T = TypeVar("T")


class Floods:
    def __init__(self, master: "Master", reactor, limits: dict[Flood, Limit] | None = None):
        self.master = master
        self.reactor = reactor
        self.limits = limits or LIMITS

    async def wait(self, flood: Flood, who: str, count: bool = True) -> float:
        """The seconds ``who`` must wait under ``flood`` (0: allowed); ``count`` counts one."""
        limit = self.limits[flood]
        master = self.master
        return await stored(master.store.limit(f"{flood}:{who}", master.clock(), limit.rate, limit.burst, count))

    async def check(self, flood: Flood, who: str, count: bool = True) -> None:
        """Count one attempt of ``who`` (with ``count``); refuse it, with the wait, when over the limit."""
        wait = await self.wait(flood, who, count)
        if wait > 0:
            what = self.limits[flood].what
            raise RequestError(ErrorCode.RATE_LIMITED, f"too many {what}; try again in {math.ceil(wait)} s")

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
        """A login: refused for this address's own attempts or failures; slowed, at most
        ``MAX_LOGIN_DELAY``, by the user's failures from anywhere; its failure counted."""
        await self.check(Flood.LOGIN_ADDRESS, address)
        await self.check(Flood.FAILED_LOGIN_ADDRESS, address, count=False)
        await self.check(Flood.FAILED_LOGIN_PAIR, f"{user}@{address}", count=False)
        delay = min(await self.wait(Flood.FAILED_LOGIN_USER, user, count=False), MAX_LOGIN_DELAY)
        if delay > 0:
            await deferLater(self.reactor, delay, lambda: None)
        try:
            return await self.master.accounts.login(user, password)
        except RequestError as exc:
            if exc.code == ErrorCode.WRONG_PASSWORD:
                await self._failed(address, user)
            raise

    async def _failed(self, address: str, user: str) -> None:
        for flood, who in (
            (Flood.FAILED_LOGIN_ADDRESS, address),
            (Flood.FAILED_LOGIN_PAIR, f"{user}@{address}"),
            (Flood.FAILED_LOGIN_USER, user),
        ):
            await self.wait(flood, who)  # a full limit counts no more: it refuses or slows already


def check_viewer_sessions(open_sessions: int) -> None:
    if open_sessions >= MAX_VIEWER_SESSIONS:
        raise RequestError(
            ErrorCode.TOO_MANY_SESSIONS,
            f"you have {open_sessions} viewer sessions open (at most {MAX_VIEWER_SESSIONS})",
        )
