"""Registering, logging in, and checking login tokens (U1, U2)."""

from __future__ import annotations

from typing import Callable

from common.errors import ErrorCode, RequestError
from common.messages.accounts import LoginToken
from common.tokens import CredentialError, LoginClaims, Signer
from master.metrics import LOGINS
from master.db.users import UserStore


class Accounts:
    def __init__(self, users: UserStore, signer: Signer, clock: Callable[[], float]):
        self.users = users
        self.signer = signer
        self.clock = clock

    async def register(self, name: str, password: str) -> None:
        await self.users.register(name, password)

    async def login(self, name: str, password: str) -> LoginToken:
        try:
            level = await self.users.authenticate(name, password)
        except RequestError as exc:
            LOGINS.labels(exc.code).inc()
            raise
        LOGINS.labels("ok").inc()
        token = self.signer.sign(LoginClaims(name, level))
        return LoginToken(name, token, self.clock() + self.signer.token_ttl)

    def authenticate(self, token: str) -> LoginClaims:
        """The user a login token names; a clear refusal if it is bad."""
        try:
            return self.signer.check(token, LoginClaims)
        except CredentialError as exc:
            raise RequestError(ErrorCode.BAD_TOKEN, str(exc)) from None
