"""The cluster status (O4) as a pure projection of the store's records: operators see
everything; a user sees the cluster summary and the broadcasts they may watch."""

from __future__ import annotations

from common.messages.accounts import BroadcastRow, MasterRow, RelayRow, SlaveRow, Status
from common.messages.cluster import SlaveState
from master.policy.placement import effective_state
from master.policy.records import BroadcastEntry, MasterRecord, SlaveRecord, ViewerEntry
from master.policy.relay_tree import RelayTree


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
        relays=relay_rows(
            [s for s in slaves if effective_state(s, now, dead_after) != SlaveState.DEAD], broadcasts, viewers
        ),
    )


def relay_rows(slaves: list[SlaveRecord], broadcasts: list[BroadcastEntry], viewers: list[ViewerEntry]) -> tuple:
    """The relay tree of every broadcast that has relays (as the ``slaves`` not dead report
    them), origin first, then by depth."""
    per_node: dict[tuple[str, str], int] = {}
    for entry in viewers:
        per_node[entry.target, entry.slave] = per_node.get((entry.target, entry.slave), 0) + 1
    rows = []
    for b in sorted(broadcasts, key=lambda b: b.user):
        tree = RelayTree(b.slave, {s.id: up for s in slaves for user, up in s.relays if user == b.user})
        relays = [n for n in tree.nodes() if n != b.slave]
        if relays:
            rows.append(RelayRow(b.user, b.slave, "", 0, per_node.get((b.user, b.slave), 0)))
            for node in sorted(relays, key=lambda n: (tree.depth(n), n)):
                rows.append(
                    RelayRow(b.user, node, tree.upstream[node], tree.depth(node), per_node.get((b.user, node), 0))
                )
    return tuple(rows)


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
        relays=tuple(r for r in operators.relays if r.user in watchable),
    )


def _master_state(master: MasterRecord, now: float, dead_after: float) -> SlaveState:
    return SlaveState.LIVE if now - master.heartbeat <= dead_after else SlaveState.DEAD


def _age(now: float, then: float) -> float:
    return round(max(0.0, now - then), 2)
