"""The rows of the masters' PostgreSQL tables in dictionaries, for the in-memory fakes of
``master.storage.db`` (``memory_users`` and the other ``memory_*`` modules): several fakes share one
``MemoryDatabase`` as the real tables share one ``Database``. The suites in
``tests/test_db_*.py`` hold each fake to its real class.

Users are never renamed or removed, so rows refer to users (and rooms) by name. Tests may
seed or read rows directly, as they would with SQL; ``available`` simulates a lost database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.errors import ErrorCode, RequestError
from master.storage.db.admissions import ViewRequestRow


@dataclass
class UserRow:
    password_hash: str
    service_level: str = "free"
    token_epoch: int = 0


@dataclass
class RoomRecord:
    owner: str
    created_at: float
    members: dict[str, float] = field(default_factory=dict)  # user -> joined_at
    invites: dict[str, tuple[str, float]] = field(default_factory=dict)  # user -> ("invited" or "asked", created_at)


@dataclass(frozen=True)
class MessageRow:
    id: int
    sender: str
    recipient: str | None  # exactly one of recipient and room is set
    room: str | None
    body: str
    sent_at: float


@dataclass
class MemoryDatabase:
    users: dict[str, UserRow] = field(default_factory=dict)
    preferences: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> key -> JSON value
    friends: set[tuple[str, str]] = field(default_factory=set)  # (user, whom they added)
    access_lists: set[tuple[str, str, str]] = field(default_factory=set)  # (owner, "allow" or "ignore", user)
    invites: dict[tuple[str, str], float] = field(default_factory=dict)  # (broadcaster, viewer) -> created_at
    view_requests: dict[tuple[str, str], ViewRequestRow] = field(default_factory=dict)  # (viewer, broadcaster)
    grants: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)  # (b, v) -> (session, granted_at)
    throws: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)  # (b, v) -> (thrown_at, until)
    rooms: dict[str, RoomRecord] = field(default_factory=dict)
    messages: dict[tuple[str, str], MessageRow] = field(default_factory=dict)  # (sender, client_id), in id order
    message_cursors: dict[str, int] = field(default_factory=dict)  # user -> last message id shown
    message_serial: int = 0  # the last message id handed out, as PostgreSQL's sequence
    available: bool = True

    def up(self) -> MemoryDatabase:
        """The rows; a switched-off database is the refusal ``Database.run`` gives."""
        if not self.available:
            raise RequestError(ErrorCode.UNAVAILABLE, "the user database is unavailable; try again shortly")
        return self

    def known(self, *names: str) -> None:
        """Refuse an unknown name as ``master.storage.db.pool.user_ids`` does."""
        for name in names:
            if name not in self.users:
                raise RequestError(ErrorCode.UNKNOWN_USER, f"no such user '{name}'")

    def ignores(self, owner: str, user: str) -> bool:
        return (owner, "ignore", user) in self.access_lists
