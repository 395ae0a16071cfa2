"""Operator commands (C7, C8): drain and undrain a slave, rebalance the cluster.

A drain is recorded as the state the operator wants, then sent to the slave; the registry
sends it again if a heartbeat shows the slave never got it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.errors import ErrorCode, RequestError
from common.messages.accounts import Move, RebalancePlan, SlaveChanged
from common.messages.cluster import Drain, MigrateBroadcast, SlaveState, Undrain
from master.policy.placement import effective_state, plan_rebalance
from master.policy.records import SlaveRecord
from master.services.metrics import OPERATIONS
from master.storage.store import stored

if TYPE_CHECKING:
    from master.node import Master


class Operators:
    def __init__(self, master: "Master"):
        self.master = master

    async def find_slave(self, ref: str) -> SlaveRecord:
        """A slave by id or by address."""
        for slave in await stored(self.master.store.slaves()):
            if ref in (slave.id, slave.addr):
                return slave
        raise RequestError(ErrorCode.UNKNOWN_SLAVE, f"no slave {ref!r} in the cluster")

    async def drain(self, ref: str, deadline: float | None) -> SlaveChanged:
        master = self.master
        slave = await self.find_slave(ref)
        if effective_state(slave, master.clock(), master.config.dead_after) == SlaveState.DEAD:
            raise RequestError(ErrorCode.DEAD_SLAVE, f"slave {slave.id} is dead; there is nothing to drain")
        await stored(master.store.set_wanted_state(slave.id, SlaveState.DRAINING))
        await master.links.send(slave.id, Drain(deadline))
        OPERATIONS.labels("drain").inc()
        return SlaveChanged(slave.id, slave.addr, SlaveState.DRAINING)

    async def undrain(self, ref: str) -> SlaveChanged:
        master = self.master
        slave = await self.find_slave(ref)
        await stored(master.store.set_wanted_state(slave.id, SlaveState.LIVE))
        await master.links.send(slave.id, Undrain())
        OPERATIONS.labels("undrain").inc()
        return SlaveChanged(slave.id, slave.addr, SlaveState.LIVE)

    async def rebalance(self) -> RebalancePlan:
        """Move broadcasts off the most loaded live slaves, each with the same
        make-before-break move as a drain; the placement picks the least-loaded target."""
        master = self.master
        now = master.clock()
        loads = {
            s.id: s.load
            for s in await stored(master.store.slaves())
            if effective_state(s, now, master.config.dead_after) == SlaveState.LIVE
        }
        viewers = await self.viewer_counts()
        broadcasts = {
            b.user: (b.slave, viewers.get(b.user, 0)) for b in await stored(master.store.broadcasts()) if b.confirmed
        }
        moves = plan_rebalance(loads, broadcasts)
        for user, source, _ in moves:
            await master.links.send(source, MigrateBroadcast(user))
        OPERATIONS.labels("rebalance").inc()
        return RebalancePlan(tuple(Move(user, source, target) for user, source, target in moves))

    async def viewer_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in await stored(self.master.store.all_viewer_sessions()):
            counts[entry.target] = counts.get(entry.target, 0) + 1
        return counts
