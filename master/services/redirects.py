"""Sending clients to slaves (C5): a new broadcast to the least-loaded live slave, a viewer
to the slave holding the broadcast it asks for, each with a ticket for that slave."""

from __future__ import annotations

import secrets
from typing import Callable

from common.errors import ErrorCode, RequestError
from common.messages.accounts import Redirect
from common.messages.cluster import SlaveState
from common.turbo import Candidates
from common.tokens import BroadcastTicket, LoginClaims, NodeKeys, ViewTicket
from master.policy.budget import SpeedPolicy, session_caps
from master.policy.claim import Claim
from master.policy.limits import check_viewer_sessions
from master.policy.placement import choose_slave, effective_state
from master.policy.records import BroadcastEntry, SlaveRecord, ViewerEntry
from master.services.metrics import PLACEMENTS, REDIRECTS
from master.services.relays import Relays, ViewerNode
from master.storage.store import Store, stored


class Redirects:
    """On the control plane: ``control`` is the store over the pool of its own. ``allowances``
    maps a service level to its viewing allowance in kbps."""

    def __init__(
        self,
        control: Store,
        signer: NodeKeys,
        relays: Relays,
        clock: Callable[[], float],
        *,
        dead_after: float,
        pending_ttl: float,
        speed_policy: SpeedPolicy,
        allowances: dict[str, float],
    ):
        self.control = control
        self.signer = signer
        self.relays = relays
        self.clock = clock
        self.dead_after = dead_after
        self.pending_ttl = pending_ttl
        self.speed_policy = speed_policy
        self.allowances = allowances

    async def place_broadcast(
        self,
        user: str,
        session: str,
        move_from: str | None = None,
        lost: str | None = None,
        turbo: Candidates = (),
        turbo_fingerprint: str = "",
    ) -> Redirect:
        """Place a broadcast on the least-loaded live slave.

        ``move_from`` names the slave a broadcast is moving away from (drain, rebalance): it is
        never chosen. ``lost`` names the slave a broadcaster just lost its connection to: it
        is avoided if any other slave is live (it may be dead without its heartbeats having
        timed out yet), so failover does not wait for the dead-slave timeout. Either way the
        same session is moved rather than sent back to the slave the table names."""
        now = self.clock()
        slaves = await stored(self.control.slaves())
        slave = choose_slave(slaves, now, self.dead_after, avoid=move_from or lost)
        if slave is None and lost and not move_from:
            slave = choose_slave(slaves, now, self.dead_after)
        if slave is None:
            PLACEMENTS.labels(ErrorCode.NO_SLAVE).inc()
            raise RequestError(ErrorCode.NO_SLAVE, "no live slave is available; try again shortly")
        moving = bool(move_from or lost)
        claim, entry = await stored(
            self.control.claim_broadcast(user, session, slave, now, self.dead_after, self.pending_ttl, moving)
        )
        if claim == Claim.BUSY:
            PLACEMENTS.labels("refused").inc()
            raise RequestError(
                ErrorCode.ALREADY_BROADCASTING, f"{user} is already broadcasting (one broadcast per user)"
            )
        PLACEMENTS.labels(_placement_kind(claim, move_from, lost)).inc()
        REDIRECTS.labels("broadcast").inc()
        nonce = secrets.token_urlsafe(9)
        ticket = self.signer.sign(BroadcastTicket(user, session, entry.slave, turbo, nonce, turbo_fingerprint))
        web = next((s.web for s in slaves if s.id == entry.slave), "")
        return Redirect(entry.addr, entry.slave, ticket, web=web or None)

    async def find_broadcast(self, target: str, viewer: str) -> tuple[BroadcastEntry, SlaveRecord, list[ViewerEntry]]:
        """The live broadcast of ``target``, its slave, and the viewing user's open sessions."""
        entry, slave, others = await stored(self.control.locate(target, viewer))
        dead = slave is None or effective_state(slave, self.clock(), self.dead_after) == SlaveState.DEAD
        if entry is None or not entry.confirmed or dead:
            raise RequestError(ErrorCode.NOT_BROADCASTING, f"{target} is not broadcasting")
        return entry, slave, others

    def view_redirect(
        self,
        viewer: LoginClaims,
        entry: BroadcastEntry,
        slave: SlaveRecord,
        others: list[ViewerEntry],
        speed_kbps: float | None = None,
        link: str | None = None,
        node: ViewerNode | None = None,
    ) -> Redirect:
        """Send an admitted viewer to the broadcaster's slave (or to ``node``, a relay of
        it), with a new viewer session and its cap: the viewer's share of its user's
        allowance, within its speed cap."""
        if link is not None and link not in self.speed_policy.link_caps:
            known = ", ".join(sorted(self.speed_policy.link_caps))
            raise RequestError(ErrorCode.BAD_LINK, f"unknown link type {link!r}; use one of {known}")
        check_viewer_sessions(len(others))
        speed_cap = self.speed_policy.cap_for(speed_kbps, link)
        allowance = self.allowances.get(viewer.level)
        session = secrets.token_urlsafe(9)
        caps = session_caps(allowance, {**{e.session: e.speed_cap for e in others}, session: speed_cap})
        REDIRECTS.labels("view").inc()
        node = node or ViewerNode.origin(entry)
        self.relays.placed(entry.user, node.slave, session)
        ticket = ViewTicket(
            viewer.user,
            entry.user,
            node.slave,
            session,
            caps[session],
            speed_cap,
            allowance,
            node.upstream,
            node.upstream_addr,
            node.depth,
        )
        web = slave.web if node.slave == entry.slave else node.web
        return Redirect(node.addr, node.slave, self.signer.sign(ticket), caps[session], web or None)


def _placement_kind(claim: Claim, move_from: str | None, lost: str | None) -> str:
    if move_from:
        return "moved"
    if lost:
        return "failover"
    return "reconnect" if claim == Claim.EXISTING else "new"
