"""Flood limits: how often one client address or one user may try to log in or register,
how often a user may ask to watch, and how many viewer sessions a user may hold open.

Counted in the store, so every master shares them (the generic cell rate algorithm of
``common.ratelimit``). Addresses are the clients' own when HAProxy passes them (PROXY
protocol, ``--proxy-protocol``); messages have their own limit (``master/chat.py``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
}
MAX_VIEWER_SESSIONS = 20  # one user's open viewer sessions, on all slaves


class Floods:
    def __init__(self, master: "Master", limits: dict[Flood, Limit] | None = None):
        self.master = master
        self.limits = limits or LIMITS

    async def check(self, flood: Flood, who: str) -> None:
        """Count one attempt of ``who``; refuse it (with the wait) when over the limit."""
        limit = self.limits[flood]
        master = self.master
        wait = await stored(master.store.limit(f"{flood}:{who}", master.clock(), limit.rate, limit.burst))
        if wait > 0:
            raise RequestError(ErrorCode.RATE_LIMITED, f"too many {limit.what}; try again in {math.ceil(wait)} s")

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
