"""Users and passwords (features U1, U2). Passwords are hashed with Argon2 (argon2-cffi)
in a worker thread, never on the reactor thread."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from twisted.internet.threads import deferToThread

from common.errors import ErrorCode, RequestError
from master.db.pool import Database


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
    def __init__(self, db: Database, hasher: PasswordHasher | None = None):
        self.db = db
        self.hasher = hasher or PasswordHasher()

    async def register(self, name: str, password: str) -> None:
        password_hash = await deferToThread(self.hasher.hash, password)
        if not await self.db.run(_insert_user_txn, name, password_hash):
            raise RequestError(ErrorCode.USER_EXISTS, f"user '{name}' already exists")

    async def authenticate(self, name: str, password: str) -> str:
        """The user's service level, for the right password; a clear RequestError otherwise."""
        row = await self.db.run(_credentials_txn, name)
        if row is None:
            raise RequestError(ErrorCode.UNKNOWN_USER, f"no such user '{name}'")
        stored, level = row
        try:
            await deferToThread(self.hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            raise RequestError(ErrorCode.WRONG_PASSWORD, f"wrong password for '{name}'") from None
        if self.hasher.check_needs_rehash(stored):
            await self.db.run(_update_hash_txn, name, await deferToThread(self.hasher.hash, password))
        return level
