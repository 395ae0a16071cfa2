"""What the masters keep about the cluster, and the interface of the store that keeps it.

The records are the master session table (C2: ``BroadcastEntry``), the viewer-session table
(C3: ``ViewerEntry``), the slave registry (``SlaveRecord``) and the masters themselves. Slaves
are the source of truth: each sends its complete session table on connecting and every
refresh interval, so the store can always be rebuilt from them.

``Store`` is implemented by ``RedisStore`` (shared by every master) and by ``MemoryStore``
(a fake for tests); one test suite runs against both. Any store raises ``StoreUnavailable``
when it cannot be reached; ``stored`` turns that into a clear "try again" for clients.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, AsyncIterator, Coroutine, Protocol

from common.errors import ErrorCode, RequestError
from common.messages.cluster import BroadcastReport, SlaveState, ViewerReport
from common.messages.schema import Control
from common.reactor import as_deferred


class StoreUnavailable(Exception):
    """The state store cannot be reached."""


@dataclass(frozen=True)
class SlaveRecord:
    """A slave as its last heartbeat described it. ``wanted`` is the state an operator asked
    for (live or draining), kept apart from the reported ``state`` so that a heartbeat can
    never undo a drain whose command was lost; ``placed`` counts broadcasts placed on it
    since that heartbeat."""

    id: str
    addr: str
    load: int
    heartbeat: float
    state: SlaveState = SlaveState.LIVE
    wanted: SlaveState = SlaveState.LIVE
    exiting: bool = False
    placed: int = 0
    broadcasts: int = 0
    viewers: int = 0
    turbo_viewers: int = 0  # viewers getting images peer to peer (turbo mode)
    turbo_bytes: int = 0  # image bytes the broadcasters sent them, which this slave did not carry
    metrics: str = ""
    web: str = ""  # where browsers and players reach it (HTTP)
    master: str = ""
    container: str = ""
    relays: tuple[tuple[str, str], ...] = ()  # (broadcast, upstream slave) it relays (C10)


@dataclass(frozen=True)
class BroadcastEntry:
    """C2: a live broadcast. Written unconfirmed when a master places it, confirmed when
    the slave reports the session."""

    user: str
    session: str
    slave: str
    addr: str
    updated: float
    confirmed: bool = False


@dataclass(frozen=True)
class ViewerEntry:
    """C3: one viewer session of ``user``, watching ``target`` on ``slave``."""

    user: str
    session: str
    target: str
    slave: str
    speed_cap: float | None = None
    allowance: float | None = None

    @classmethod
    def reported(cls, slave_id: str, report: ViewerReport) -> "ViewerEntry":
        return cls(report.user, report.session, report.target, slave_id, report.speed_cap, report.allowance)


@dataclass(frozen=True)
class MasterRecord:
    id: str
    addr: str
    slave_addr: str
    metrics: str
    heartbeat: float


class Claim(enum.StrEnum):
    CLAIMED = "claimed"  # the entry now names the chosen slave
    EXISTING = "existing"  # the same broadcast reconnecting while its slave is live: keep it there
    BUSY = "busy"  # another broadcast of this user is on a slave that has not died


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


def decide_claim(
    current: BroadcastEntry | None,
    holder: SlaveRecord | None,
    session: str,
    now: float,
    dead_after: float,
    pending_ttl: float,
    move: bool,
) -> Claim:
    """The claim rule (S9), as a pure function; the Redis store's Lua script is the same
    rule, and the shared store tests hold the two to it.

    ``current`` is the user's entry and ``holder`` the record of the slave it names.
    Another session of the user keeps the entry while its slave lives and it is confirmed
    or still young; the same session stays where it is (``EXISTING``) while its slave is
    live, unless it is moving."""
    if current is None or holder is None:
        return Claim.CLAIMED
    alive = now - holder.heartbeat < dead_after and holder.state != SlaveState.DEAD
    if not alive:
        return Claim.CLAIMED
    if current.session != session:
        young = now - current.updated < pending_ttl
        return Claim.BUSY if current.confirmed or young else Claim.CLAIMED
    if not move and holder.state == SlaveState.LIVE and holder.wanted != SlaveState.DRAINING:
        return Claim.EXISTING
    return Claim.CLAIMED


async def stored(coro: Coroutine[Any, Any, Any]) -> Any:
    """Await a store coroutine from Deferred-driven code; an unreachable store becomes a
    clear "try again" for the client."""
    try:
        return await as_deferred(coro)
    except StoreUnavailable:
        raise RequestError(ErrorCode.UNAVAILABLE, "the cluster state store is unavailable; try again shortly") from None
