"""Users and passwords (features U1, U2). Passwords are hashed with Argon2 (argon2-cffi)
in a worker thread, never on the reactor thread.

A failed login says the same for an unknown user as for a wrong password, and takes as
long (an unknown user's password is checked against a dummy hash), so logins cannot be used
to find out who has an account. Registration looks the name up before hashing, so taken
names cost no Argon2 work.

Argon2 is costly by design (64 MiB and three passes a hash, argon2-cffi's defaults): at most
``HASHES_AT_ONCE`` run at a time on a master, the others wait their turn, so a flood of
logins takes a bounded share of its CPU and memory (``master/floods.py`` bounds each
address's attempts)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from twisted.internet.defer import DeferredSemaphore
from twisted.internet.threads import deferToThread

from common.errors import ErrorCode, RequestError
from master.storage.db.pool import Database

HASHES_AT_ONCE = 2


def _insert_user_txn(cursor, name: str, password_hash: str) -> bool:
    cursor.execute(
        "INSERT INTO users (name, password_hash) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
        (name, password_hash),
    )
    return cursor.fetchone() is not None


def _credentials_txn(cursor, name: str) -> tuple[str, str, int] | None:
    cursor.execute("SELECT password_hash, service_level, token_epoch FROM users WHERE name = %s", (name,))
    return cursor.fetchone()


def _epoch_txn(cursor, name: str) -> int | None:
    cursor.execute("SELECT token_epoch FROM users WHERE name = %s", (name,))
    row = cursor.fetchone()
    return None if row is None else row[0]


def _next_epoch_txn(cursor, name: str) -> int | None:
    cursor.execute("UPDATE users SET token_epoch = token_epoch + 1 WHERE name = %s RETURNING token_epoch", (name,))
    row = cursor.fetchone()
    return None if row is None else row[0]


def _exists_txn(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM users WHERE name = %s", (name,))
    return cursor.fetchone() is not None


def _update_hash_txn(cursor, name: str, password_hash: str) -> None:
    cursor.execute("UPDATE users SET password_hash = %s WHERE name = %s", (password_hash, name))


class UserStore:
    def __init__(self, db: Database, hasher: PasswordHasher | None = None):
        self.db = db
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None
        self._hashing = DeferredSemaphore(HASHES_AT_ONCE)

    def _argon2(self, work, *args):
        """``work`` (hashing or verifying) in a worker thread, in turn with the others."""
        return self._hashing.run(deferToThread, work, *args)

    async def register(self, name: str, password: str) -> None:
        if await self.db.run(_exists_txn, name):
            raise RequestError(ErrorCode.USER_EXISTS, f"user '{name}' already exists")
        password_hash = await self._argon2(self.hasher.hash, password)
        if not await self.db.run(_insert_user_txn, name, password_hash):
            raise RequestError(ErrorCode.USER_EXISTS, f"user '{name}' already exists")

    async def authenticate(self, name: str, password: str) -> tuple[str, int]:
        """The user's service level and token epoch, for the right password; a clear
        RequestError otherwise."""
        row = await self.db.run(_credentials_txn, name)
        if row is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._argon2(self.hasher.hash, secrets.token_urlsafe(16))
            row = (self._dummy_hash, None, 0)
        stored, level, epoch = row
        try:
            await self._argon2(self.hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            level = None
        if level is None:
            raise RequestError(ErrorCode.WRONG_PASSWORD, "wrong user name or password")
        if self.hasher.check_needs_rehash(stored):
            await self.db.run(_update_hash_txn, name, await self._argon2(self.hasher.hash, password))
        return level, epoch

    async def token_epoch(self, name: str) -> int | None:
        """The epoch of ``name``'s valid tokens (None: no such user)."""
        return await self.db.run(_epoch_txn, name)

    async def end_tokens(self, name: str) -> int | None:
        """Move ``name``'s token epoch on, ending every token made before; the new epoch."""
        return await self.db.run(_next_epoch_txn, name)
