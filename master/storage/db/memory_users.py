"""``UserStore`` in memory: the same answers and refusals, Argon2 on the calling thread.

Its default hasher is cheap (a test registers users in microseconds, not 50 ms); pass
``PasswordHasher()`` for the real cost. What only shapes timing (the worker thread, the
turns of ``HASHES_AT_ONCE``, the dummy hash checked for unknown users) is left out."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common.errors import ErrorCode, RequestError
from master.storage.db.memory_database import MemoryDatabase, UserRow


def cheap_hasher() -> PasswordHasher:
    """Argon2id at its smallest cost: for tests only."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class MemoryUserStore:
    def __init__(self, db: MemoryDatabase, hasher: PasswordHasher | None = None):
        self.db = db
        self.hasher = hasher or cheap_hasher()

    async def register(self, name: str, password: str) -> None:
        users = self.db.up().users
        if name in users:
            raise RequestError(ErrorCode.USER_EXISTS, f"user '{name}' already exists")
        users[name] = UserRow(self.hasher.hash(password))

    async def authenticate(self, name: str, password: str) -> tuple[str, int]:
        row = self.db.up().users.get(name)
        if row is None or not self._verifies(row.password_hash, password):
            raise RequestError(ErrorCode.WRONG_PASSWORD, "wrong user name or password")
        if self.hasher.check_needs_rehash(row.password_hash):
            row.password_hash = self.hasher.hash(password)
        return row.service_level, row.token_epoch

    def _verifies(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def token_epoch(self, name: str) -> int | None:
        row = self.db.up().users.get(name)
        return None if row is None else row.token_epoch

    async def end_tokens(self, name: str) -> int | None:
        row = self.db.up().users.get(name)
        if row is None:
            return None
        row.token_epoch += 1
        return row.token_epoch
