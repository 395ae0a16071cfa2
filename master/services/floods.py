"""Counting floods against their limits (``policy/limits.py``): how often one client
address or one user may try to log in or register, ask to watch, invite, throw, decline,
ask for the status or the live list, make rooms, ask to join them, and name users who do
not exist.

Logins count attempts per address (each costs an Argon2 check) and *failures*: per address
and user, and per address for any user, both refused past their burst; and per user from
anywhere, which never refuses, only slows each login as that user by at most
``MAX_LOGIN_DELAY`` seconds. So wrong passwords sent from elsewhere cannot lock a user out:
her right password, from an address of her own, is answered at most that much later.

Counted in the store, so every master shares them (the generic cell rate algorithm of
``common.ratelimit``). Addresses are the clients' own when HAProxy passes them (PROXY
protocol, ``--proxy-protocol``); messages have their own limit (``services/chat.py``).
"""

from __future__ import annotations

import math
from typing import Awaitable, Callable, TypeVar

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from common.errors import ErrorCode, RequestError
from common.messages.accounts import LoginToken
from master.policy.limits import LIMITS, Flood, Limit
from master.services.accounts import Accounts
from master.storage.store import Store, stored

MAX_LOGIN_DELAY = 2.0  # seconds others' failed logins may hold back a login as the same user
T = TypeVar("T")


class Floods:
    """``reactor``: the clock the limits count by, and that slows logins."""

    def __init__(
        self, store: Store, accounts: Accounts, reactor: IReactorTime, limits: dict[Flood, Limit] | None = None
    ):
        self.store = store
        self.accounts = accounts
        self.reactor = reactor
        self.limits = limits or LIMITS

    async def wait(self, flood: Flood, who: str, count: bool = True) -> float:
        """The seconds ``who`` must wait under ``flood`` (0: allowed); ``count`` counts one."""
        limit = self.limits[flood]
        return await stored(self.store.limit(f"{flood}:{who}", self.reactor.seconds(), limit.rate, limit.burst, count))

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
            return await self.accounts.login(user, password)
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
