"""Registering, logging in, and checking login and player tokens (U1, U2).

Every token carries its user's token epoch (PostgreSQL, ``users.token_epoch``), and each
use is checked against the current one, on whichever master: ``logout --everywhere`` moves
the epoch on, so every login and player token the user holds is refused from then on.
"""

from __future__ import annotations

from typing import Callable

from common.errors import ErrorCode, RequestError
from common.messages.accounts import LoginToken, TokensEnded
from common.signing import CredentialError
from common.tokens import LoginClaims, NodeKeys, PlayerClaims
from master.services.events import Events
from master.services.metrics import LOGINS
from master.storage.db.users import UserStore


class Accounts:
    def __init__(self, users: UserStore, signer: NodeKeys, events: Events, clock: Callable[[], float]):
        self.users = users
        self.signer = signer
        self.events = events
        self.clock = clock

    async def register(self, name: str, password: str) -> None:
        await self.users.register(name, password)

    async def login(self, name: str, password: str) -> LoginToken:
        try:
            level, epoch = await self.users.authenticate(name, password)
        except RequestError as exc:
            LOGINS.labels(exc.code).inc()
            raise
        LOGINS.labels("ok").inc()
        token = self.signer.sign(LoginClaims(name, level, epoch))
        return LoginToken(name, token, self.clock() + self.signer.token_ttl)

    async def authenticate(self, token: str) -> LoginClaims:
        """The user a login token names, if it is valid and not ended; a clear refusal if not."""
        claims = self._checked(token, LoginClaims)
        await self._current(claims.user, claims.epoch)
        return claims

    async def player(self, token: str) -> LoginClaims:
        """Whom a player's token (a player token, or a login token) lets watch: the web
        fronts' players only; a clear refusal if it is bad, expired or ended."""
        try:
            claims = self.signer.check(token, PlayerClaims, self.clock())
        except CredentialError:
            return await self.authenticate(token)
        if claims.expires < self.clock():
            raise RequestError(ErrorCode.BAD_TOKEN, "player token has expired; make a new one")
        await self._current(claims.user, claims.epoch)
        return LoginClaims(claims.user, claims.level, claims.epoch)

    def player_token(self, claims: LoginClaims, ttl: float) -> LoginToken:
        """A token for players' URLs, for ``ttl`` seconds (the request's field bounds it by
        PlayerClaims.MAX_AGE, a day)."""
        expires = self.clock() + ttl
        token = self.signer.sign(PlayerClaims(claims.user, expires, claims.level, claims.epoch))
        return LoginToken(claims.user, token, expires)

    async def end_tokens(self, claims: LoginClaims) -> None:
        """Refuse every login and player token ``claims.user`` holds, this one included,
        and end the sessions attached with them, on every master."""
        epoch = await self.users.end_tokens(claims.user)
        await self.events.push([claims.user], TokensEnded(epoch))

    def _checked(self, token: str, kind: type) -> LoginClaims:
        try:
            return self.signer.check(token, kind, self.clock())
        except CredentialError as exc:
            raise RequestError(ErrorCode.BAD_TOKEN, str(exc)) from None

    async def _current(self, user: str, epoch: int) -> None:
        if await self.users.token_epoch(user) != epoch:
            raise RequestError(ErrorCode.BAD_TOKEN, "this token was ended by logout --everywhere; log in again")
