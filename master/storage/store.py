"""The interface of the store that keeps the cluster tables (the records of
``policy/records.py``), shared by every master.

``Store`` is implemented by ``RedisStore`` (shared by every master) and by ``MemoryStore``
(a fake for tests); one test suite runs against both. Any store raises ``StoreUnavailable``
when it cannot be reached; ``stored`` turns that into a clear "try again" for clients.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Coroutine, Protocol

from common.errors import ErrorCode, RequestError
from common.messages.cluster import BroadcastReport, SlaveState, ViewerReport
from common.messages.schema import Control
from common.reactor import as_deferred
from master.policy.claim import Claim
from master.policy.records import BroadcastEntry, MasterRecord, SlaveRecord, ViewerEntry


class StoreUnavailable(Exception):
    """The state store cannot be reached."""


class Store(Protocol):
    # --- slave registry ------------------------------------------------------------
    async def record_heartbeat(self, slave: SlaveRecord) -> tuple[bool, SlaveState]:
        """Store a heartbeat (``wanted`` is left as it is; ``placed`` is reset). Returns
        whether the tables may lack the slave's sessions (the store had no record of it, or
        it had been marked dead), and the state an operator wants it in."""

    async def slaves(self) -> list[SlaveRecord]: ...

    async def set_wanted_state(self, slave_id: str, state: SlaveState) -> None:
        """An operator's drain or undrain."""

    async def mark_dead(self, slave_id: str) -> tuple[list[str], set[str]]:
        """Mark a slave dead and clear its entries in both tables; returns the broadcasters
        cleared and the viewing users whose sessions were cleared."""

    async def forget_slave(self, slave_id: str) -> None: ...

    # --- master session table (C2) ---------------------------------------------------
    async def claim_broadcast(
        self, user: str, session: str, slave: SlaveRecord, now: float, dead_after: float, pending_ttl: float, move: bool
    ) -> tuple[Claim, BroadcastEntry]:
        """Claim the entry for a broadcast atomically across masters (S9), as
        ``decide_claim`` says; ``move`` forces the same session onto ``slave``."""

    async def confirm_broadcast(
        self, user: str, session: str, slave_id: str, addr: str, now: float
    ) -> BroadcastEntry | None:
        """Record that the slave holds the broadcast; returns the confirmed entry it replaced."""

    async def remove_broadcast(self, user: str, session: str, slave_id: str) -> bool:
        """Delete the entry only if it still names this session on this slave."""

    async def broadcasts(self) -> list[BroadcastEntry]: ...

    async def replace_slave_sessions(
        self, slave_id: str, addr: str, reports: list[BroadcastReport], now: float, pending_ttl: float
    ) -> None:
        """Make C2 agree with a slave's complete list: its entries it no longer reports are
        dropped (except placements younger than ``pending_ttl`` still on their way), and a
        session the table already has on another slave (it moved there) is left alone."""

    # --- viewer-session table (C3) -----------------------------------------------------
    async def add_viewer_session(self, entry: ViewerEntry) -> None: ...

    async def remove_viewer_session(self, user: str, session: str) -> None: ...

    async def locate(
        self, target: str, viewer: str
    ) -> tuple[BroadcastEntry | None, SlaveRecord | None, list[ViewerEntry]]:
        """What a viewer redirect needs, in one round trip: the broadcast's entry, the record
        of the slave it names, and the viewing user's open sessions."""

    async def viewer_sessions(self, user: str) -> list[ViewerEntry]: ...

    async def all_viewer_sessions(self) -> list[ViewerEntry]: ...

    async def replace_slave_viewers(self, slave_id: str, reports: list[ViewerReport]) -> set[str]:
        """Make C3 agree with a slave's complete list; returns the users whose sessions changed."""

    # --- commands for slaves linked to other masters ----------------------------------
    async def publish_command(self, slave_id: str, message: Control) -> None: ...

    def command_feed(self) -> AsyncIterator[tuple[str, int, bytes]]:
        """Every command published from now on, as (slave id, message type, body); raises
        StoreUnavailable when the feed is lost (the caller subscribes again)."""

    # --- masters -----------------------------------------------------------------------
    async def record_master(self, master: MasterRecord) -> None: ...

    async def masters(self) -> list[MasterRecord]: ...

    # --- users' attached sessions: presence and pushed events ------------------------------
    async def presence_change(self, master_id: str, user: str, delta: int) -> None:
        """Count a user's sessions attached to one master up or down."""

    async def clear_presence(self, master_id: str) -> list[str]:
        """Forget a master's sessions (it started, or died); returns the users it had."""

    async def online(self, users: list[str], masters: list[str]) -> set[str]:
        """Which of ``users`` have a session attached to one of ``masters`` (the live ones)."""

    async def publish_event(self, users: list[str], event: Control) -> None:
        """An event for every attached session of these users, wherever they are."""

    async def limit(self, key: str, now: float, rate: float, burst: int, count: bool = True) -> float:
        """Count one event against a rate limit shared by every master (``gcra``): the
        seconds to wait before it would be allowed, 0.0 if it is allowed (and counted).
        With ``count`` False, only the wait: nothing is counted (a look before a failure
        that may not happen, such as a wrong password)."""

    async def use_once(self, key: str, now: float, ttl: float) -> bool:
        """True the first time ``key`` is used within ``ttl`` seconds, on any master (the
        nonce of a single-use credential, kept until the credential has expired)."""

    def event_feed(self) -> AsyncIterator[tuple[tuple[str, ...], int, bytes]]:
        """Every event published from now on, as (users, message type, body), in order;
        after StoreUnavailable the caller subscribes again (events published meanwhile
        are delivered if the store kept them)."""


async def stored(coro: Coroutine[Any, Any, Any]) -> Any:
    """Await a store coroutine from Deferred-driven code; an unreachable store becomes a
    clear "try again" for the client."""
    try:
        return await as_deferred(coro)
    except StoreUnavailable:
        raise RequestError(ErrorCode.UNAVAILABLE, "the cluster state store is unavailable; try again shortly") from None
