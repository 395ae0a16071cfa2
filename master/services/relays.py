"""Relay chains on the master's side (C10): which slave a new viewer of a broadcast goes
to, and which upstream a relay pulls from. The shape of each broadcast's tree is decided
by the pure policy in ``relay_tree``; this module gathers its inputs from the store: the
origin (the broadcast's slave), the relays' links from their heartbeats, viewers per slave
from the viewer-session table, and the live slaves' loads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from common.messages.cluster import SlaveState
from common.messages.relay import RelayUpstream
from master.policy.placement import effective_state
from master.policy.records import BroadcastEntry, SlaveRecord
from master.policy.relay_tree import RelayTree, TreeLimits, choose_upstream, place_viewer
from master.services.metrics import RELAY_CHOICES
from master.storage.store import Store, stored


@dataclass(frozen=True)
class ViewerNode:
    """Where a viewer goes; with ``upstream``, that slave starts relaying from there."""

    slave: str
    addr: str
    upstream: str = ""
    upstream_addr: str = ""
    depth: int = 0
    web: str = ""  # the node's HTTP address, for browsers and players

    @classmethod
    def origin(cls, entry: BroadcastEntry) -> "ViewerNode":
        """The broadcast's own slave."""
        return cls(entry.slave, entry.addr)


PENDING_FOR = 5.0  # seconds a viewer sent to a node counts there before its slave reports it


class Relays:
    """Viewers reach the viewer-session table only once they reach their slave, so a burst
    of joins would all see the same counts; like placement's ``placed``, viewers this master
    sent somewhere count there until their session shows up (or ``PENDING_FOR`` passes).
    ``limits.relay_after`` 0 turns relays off."""

    def __init__(self, store: Store, clock: Callable[[], float], limits: TreeLimits, dead_after: float):
        self.store = store
        self.clock = clock
        self.limits = limits
        self.dead_after = dead_after
        self._pending: dict[str, tuple[str, str, float]] = {}  # session -> (broadcast, slave, when)

    def placed(self, target: str, slave: str, session: str) -> None:
        if self.limits.relay_after > 0:
            self._pending[session] = (target, slave, self.clock())

    async def place_viewer(self, entry: BroadcastEntry) -> ViewerNode:
        """The broadcast's own slave, or (past ``relay_after`` viewers there) a relay."""
        if self.limits.relay_after <= 0:
            return ViewerNode.origin(entry)
        tree, viewers, slaves = await self._gather(entry)
        live = self._live(slaves)
        loads = {s.id: s.load + s.placed for s in live.values()}
        placement = place_viewer(tree, self.limits, viewers, loads)
        if placement.node == entry.slave or placement.node not in live:
            RELAY_CHOICES.labels("origin").inc()
            return ViewerNode.origin(entry)
        RELAY_CHOICES.labels("relay" if placement.upstream is None else "new_relay").inc()
        # An existing relay's ticket names its upstream too: a relay that lost its copy (its
        # slave restarted within the dead-slave timeout) pulls it again rather than refusing
        # every viewer sent there until its heartbeats catch up; one that has it ignores it.
        parent = placement.upstream or tree.upstream.get(placement.node, entry.slave)
        if parent != entry.slave and parent not in live:
            parent = entry.slave
        depth = (tree.depth(parent) or 0) + 1
        node = live[placement.node]
        return ViewerNode(placement.node, node.addr, parent, self._addr(parent, entry, live), depth, node.web)

    async def upstream(self, relay: str, target: str, avoid: str) -> RelayUpstream:
        """A (new) upstream for ``relay``'s copy of ``target``; none if it is not live."""
        entry, slave, _ = await stored(self.store.locate(target, target))  # (its third part is unused here)
        dead = slave is None or effective_state(slave, self.clock(), self.dead_after) == SlaveState.DEAD
        if entry is None or not entry.confirmed or dead or entry.slave == relay:
            RELAY_CHOICES.labels("none").inc()
            return RelayUpstream(target)
        tree, viewers, slaves = await self._gather(entry)
        live = self._live(slaves)
        tree.upstream = {r: u for r, u in tree.upstream.items() if r == relay or r in live}
        chosen = choose_upstream(tree, self.limits, relay, viewers, avoid)
        RELAY_CHOICES.labels("upstream").inc()
        depth = (tree.depth(chosen) or 0) + 1
        return RelayUpstream(target, chosen, self._addr(chosen, entry, live), depth)

    async def _gather(self, entry: BroadcastEntry) -> tuple[RelayTree, dict[str, int], list[SlaveRecord]]:
        store = self.store
        slaves = await stored(store.slaves())
        viewers: dict[str, int] = {}
        arrived = set()
        for session in await stored(store.all_viewer_sessions()):
            arrived.add(session.session)
            if session.target == entry.user:
                viewers[session.slave] = viewers.get(session.slave, 0) + 1
        now = self.clock()
        self._pending = {s: p for s, p in self._pending.items() if s not in arrived and now - p[2] < PENDING_FOR}
        for target, slave, _ in self._pending.values():
            if target == entry.user:
                viewers[slave] = viewers.get(slave, 0) + 1
        links = {s.id: up for s in slaves for target, up in s.relays if target == entry.user and s.id != entry.slave}
        for slave in viewers:  # a relay started since its last heartbeat: under the origin, until it says
            if slave != entry.slave and slave not in links:
                links[slave] = entry.slave
        return RelayTree(entry.slave, links), viewers, slaves

    def _live(self, slaves: list[SlaveRecord]) -> dict[str, SlaveRecord]:
        now = self.clock()
        return {s.id: s for s in slaves if effective_state(s, now, self.dead_after) == SlaveState.LIVE}

    @staticmethod
    def _addr(slave: str, entry: BroadcastEntry, live: dict[str, SlaveRecord]) -> str:
        return entry.addr if slave == entry.slave else live[slave].addr
