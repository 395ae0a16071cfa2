"""The cluster status (O4) as a pure projection of the store's records: operators see
everything; a user sees the cluster summary and the broadcasts they may watch."""

from __future__ import annotations

from common.messages.accounts import BroadcastRow, MasterRow, SlaveRow, Status
from common.messages.cluster import SlaveState
from master.placement import effective_state
from master.store import BroadcastEntry, MasterRecord, SlaveRecord, ViewerEntry


def audience(viewers: list[ViewerEntry]) -> dict[str, int]:
    """Viewer sessions per broadcaster."""
    counts: dict[str, int] = {}
    for entry in viewers:
        counts[entry.target] = counts.get(entry.target, 0) + 1
    return counts


def project(
    masters: list[MasterRecord],
    slaves: list[SlaveRecord],
    broadcasts: list[BroadcastEntry],
    viewers: list[ViewerEntry],
    now: float,
    dead_after: float,
) -> Status:
    """The operators' status: every node with its addresses, every session."""
    counts = audience(viewers)
    return Status(
        masters=tuple(
            MasterRow(m.id, _master_state(m, now, dead_after), _age(now, m.heartbeat), m.addr) for m in masters
        ),
        slaves=tuple(
            SlaveRow(
                s.id,
                effective_state(s, now, dead_after),
                s.load,
                s.broadcasts,
                s.viewers,
                _age(now, s.heartbeat),
                s.addr,
                s.metrics,
                s.container,
                s.turbo_viewers,
                s.turbo_bytes,
            )
            for s in slaves
        ),
        broadcasts=tuple(
            BroadcastRow(b.user, counts.get(b.user, 0), b.slave, b.addr, b.confirmed, _age(now, b.updated))
            for b in sorted(broadcasts, key=lambda b: b.user)
        ),
    )


def for_user(operators: Status, watchable: dict[str, str]) -> Status:
    """A user's status: nodes without their addresses, and only the confirmed broadcasts
    in ``watchable`` (user -> admit or ask)."""
    return Status(
        masters=tuple(MasterRow(m.id, m.state, m.heartbeat_age) for m in operators.masters),
        slaves=tuple(
            SlaveRow(
                s.id,
                s.state,
                s.load,
                s.broadcasts,
                s.viewers,
                s.heartbeat_age,
                turbo_viewers=s.turbo_viewers,
                turbo_bytes=s.turbo_bytes,
            )
            for s in operators.slaves
        ),
        broadcasts=tuple(
            BroadcastRow(b.user, b.viewers, access=watchable[b.user])
            for b in operators.broadcasts
            if b.confirmed and b.user in watchable
        ),
    )


def _master_state(master: MasterRecord, now: float, dead_after: float) -> SlaveState:
    return SlaveState.LIVE if now - master.heartbeat <= dead_after else SlaveState.DEAD


def _age(now: float, then: float) -> float:
    return round(max(0.0, now - then), 2)
