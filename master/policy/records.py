"""What the masters keep about the cluster: the rows of the master session table (C2:
``BroadcastEntry``), of the viewer-session table (C3: ``ViewerEntry``), of the slave registry
(``SlaveRecord``) and of the masters themselves (``MasterRecord``). Plain data: the policy
decides on them, the storage keeps them (``storage/store.py``).

Slaves are the source of truth: each sends its complete session table on connecting and
every refresh interval, so the tables can always be rebuilt from them.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.messages.cluster import SlaveState, ViewerReport


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
