"""Users and passwords in PostgreSQL (features U1, U2), through adbapi.

SQL lives in plain synchronous ``_txn`` functions run by ``runInteraction``. Passwords are
hashed with Argon2 (argon2-cffi) in a worker thread, never on the reactor thread.
"""

from __future__ import annotations

import re

import psycopg2
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from twisted.enterprise import adbapi
from twisted.internet.threads import deferToThread

from common.messaging import RequestError

USER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MAX_PASSWORD = 256


def check_user_name(name: object) -> str:
    if not isinstance(name, str) or not USER_NAME.match(name):
        raise RequestError("bad_user", "user names are 1-32 letters, digits, '_', '.' or '-'")
    return name


def check_password(password: object) -> str:
    if not isinstance(password, str) or not password:
        raise RequestError("bad_password", "a non-empty password is required")
    if len(password) > MAX_PASSWORD:
        raise RequestError("bad_password", f"passwords are at most {MAX_PASSWORD} characters")
    return password


def _insert_user_txn(cursor, name: str, password_hash: str) -> bool:
    cursor.execute(
        "INSERT INTO users (name, password_hash) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
        (name, password_hash),
    )
    return cursor.fetchone() is not None


def _credentials_txn(cursor, name: str) -> tuple[str, str] | None:
    cursor.execute("SELECT password_hash, service_level FROM users WHERE name = %s", (name,))
    return cursor.fetchone()


def _update_hash_txn(cursor, name: str, password_hash: str) -> None:
    cursor.execute("UPDATE users SET password_hash = %s WHERE name = %s", (password_hash, name))


class UserStore:
    def __init__(self, dsn: str, hasher: PasswordHasher | None = None):
        self.pool = adbapi.ConnectionPool("psycopg2", dsn, cp_reconnect=True, cp_min=1, cp_max=4, cp_noisy=False)
        self.hasher = hasher or PasswordHasher()

    async def _run(self, txn, *args):
        try:
            return await self.pool.runInteraction(txn, *args)
        except psycopg2.OperationalError:
            raise RequestError("unavailable", "the user database is unavailable; try again shortly") from None

    async def register(self, name: str, password: str) -> None:
        password_hash = await deferToThread(self.hasher.hash, password)
        if not await self._run(_insert_user_txn, name, password_hash):
            raise RequestError("user_exists", f"user '{name}' already exists")

    async def authenticate(self, name: str, password: str) -> str:
        """The user's service level, for the right password; a clear RequestError otherwise."""
        row = await self._run(_credentials_txn, name)
        if row is None:
            raise RequestError("unknown_user", f"no such user '{name}'")
        stored, level = row
        try:
            await deferToThread(self.hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            raise RequestError("wrong_password", f"wrong password for '{name}'") from None
        if self.hasher.check_needs_rehash(stored):
            await self._run(_update_hash_txn, name, await deferToThread(self.hasher.hash, password))
        return level

    def close(self) -> None:
        self.pool.close()
