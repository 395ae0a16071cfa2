"""Operator commands (C7, C8): drain and undrain a slave, rebalance the cluster; and the
operator proofs that allow them.

A drain is recorded as the state the operator wants, then sent to the slave; the registry
sends it again if a heartbeat shows the slave never got it."""

from __future__ import annotations

from typing import Callable

from common.errors import ErrorCode, RequestError
from common.messages.accounts import Move, RebalancePlan, SlaveChanged
from common.messages.cluster import Drain, MigrateBroadcast, SlaveState, Undrain
from common.signing import CredentialError
from common.tokens import NodeKeys, OperatorProof
from master.policy.placement import effective_state, plan_rebalance
from master.policy.records import SlaveRecord
from master.services.metrics import OPERATIONS
from master.services.slave_links import SlaveLinks
from master.storage.store import Store, stored


class Operators:
    def __init__(
        self, store: Store, links: SlaveLinks, signer: NodeKeys, clock: Callable[[], float], dead_after: float
    ):
        self.store = store
        self.links = links
        self.signer = signer
        self.clock = clock
        self.dead_after = dead_after

    async def authorize(self, proof: str, command: str, target: str | None = None) -> None:
        """Refuse unless ``proof`` is a valid, unused operator proof of this very command."""
        try:
            checked = self.signer.check(proof, OperatorProof, self.clock())
        except CredentialError as exc:
            raise RequestError(ErrorCode.NOT_OPERATOR, f"operator commands need the cluster secret: {exc}") from None
        if checked.command != command or checked.target != (target or ""):
            raise RequestError(ErrorCode.NOT_OPERATOR, "this operator proof was made for another command")
        kept_for = self.signer.kept_for(OperatorProof)
        fresh = checked.nonce and await stored(self.store.use_once(f"operator:{checked.nonce}", self.clock(), kept_for))
        if not fresh:
            raise RequestError(ErrorCode.NOT_OPERATOR, "this operator proof was already used; make a new one")

    async def find_slave(self, ref: str) -> SlaveRecord:
        """A slave by id or by address."""
        for slave in await stored(self.store.slaves()):
            if ref in (slave.id, slave.addr):
                return slave
        raise RequestError(ErrorCode.UNKNOWN_SLAVE, f"no slave {ref!r} in the cluster")

    async def drain(self, ref: str, deadline: float | None) -> SlaveChanged:
        slave = await self.find_slave(ref)
        if effective_state(slave, self.clock(), self.dead_after) == SlaveState.DEAD:
            raise RequestError(ErrorCode.DEAD_SLAVE, f"slave {slave.id} is dead; there is nothing to drain")
        await stored(self.store.set_wanted_state(slave.id, SlaveState.DRAINING))
        await self.links.send(slave.id, Drain(deadline))
        OPERATIONS.labels("drain").inc()
        return SlaveChanged(slave.id, slave.addr, SlaveState.DRAINING)

    async def undrain(self, ref: str) -> SlaveChanged:
        slave = await self.find_slave(ref)
        await stored(self.store.set_wanted_state(slave.id, SlaveState.LIVE))
        await self.links.send(slave.id, Undrain())
        OPERATIONS.labels("undrain").inc()
        return SlaveChanged(slave.id, slave.addr, SlaveState.LIVE)

    async def rebalance(self) -> RebalancePlan:
        """Move broadcasts off the most loaded live slaves, each with the same
        make-before-break move as a drain; the placement picks the least-loaded target."""
        now = self.clock()
        loads = {
            s.id: s.load
            for s in await stored(self.store.slaves())
            if effective_state(s, now, self.dead_after) == SlaveState.LIVE
        }
        viewers = await self.viewer_counts()
        broadcasts = {
            b.user: (b.slave, viewers.get(b.user, 0)) for b in await stored(self.store.broadcasts()) if b.confirmed
        }
        moves = plan_rebalance(loads, broadcasts)
        for user, source, _ in moves:
            await self.links.send(source, MigrateBroadcast(user))
        OPERATIONS.labels("rebalance").inc()
        return RebalancePlan(tuple(Move(user, source, target) for user, source, target in moves))

    async def viewer_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in await stored(self.store.all_viewer_sessions()):
            counts[entry.target] = counts.get(entry.target, 0) + 1
        return counts
