"""The slave registry (C4, C6): heartbeats and session reports into the store, and the
sweep that marks silent slaves dead.

A heartbeat also repairs what a lost command broke: if an operator wants a slave drained
and its heartbeat still says ``live``, the drain is sent again (and likewise an undrain,
unless the slave drains to exit on SIGTERM).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from twisted.logger import Logger

from common.messages.cluster import (
    BroadcastElsewhere,
    Drain,
    Heartbeat,
    SessionAdd,
    SessionKind,
    SessionRemove,
    SessionTable,
    SlaveState,
    TableRequest,
    Undrain,
)
from master.policy.placement import effective_state
from master.policy.records import MasterRecord, SlaveRecord, ViewerEntry
from master.services.allowances import Allowances
from master.services.metrics import HEARTBEATS, SLAVE_HEARTBEAT_AGE, SLAVES, TABLE_REBUILDS
from master.services.presence import UserPresence
from master.services.slave_links import Link, SlaveLinks
from master.storage.store import Store, stored


class Registry:
    """On the control plane: ``control`` is the store over the pool of its own. ``me`` is
    this master's record, which each sweep stores with a new heartbeat."""

    log = Logger()

    def __init__(
        self,
        control: Store,
        links: SlaveLinks,
        allowances: Allowances,
        presence: UserPresence,
        clock: Callable[[], float],
        me: MasterRecord,
        *,
        dead_after: float,
        pending_ttl: float,
        forget_after: float,
    ):
        self.control = control
        self.links = links
        self.allowances = allowances
        self.presence = presence
        self.clock = clock
        self.me = me
        self.dead_after = dead_after
        self.pending_ttl = pending_ttl
        self.forget_after = forget_after
        self._aged: set[str] = set()  # slaves with a heartbeat-age series

    async def heartbeat(self, link: Link, beat: Heartbeat) -> None:
        HEARTBEATS.inc()
        record = SlaveRecord(
            id=link.slave_id,
            addr=link.hello.addr,
            load=beat.load,
            heartbeat=self.clock(),
            state=beat.state,
            exiting=beat.exiting,
            broadcasts=beat.broadcasts,
            viewers=beat.viewers,
            turbo_viewers=beat.turbo_viewers,
            turbo_bytes=beat.turbo_bytes,
            metrics=link.hello.metrics,
            web=link.hello.web,
            master=self.me.id,
            container=link.hello.container,
            relays=tuple((r.target, r.upstream) for r in beat.relays),
        )
        lacking, wanted = await stored(self.control.record_heartbeat(record))
        if lacking:
            # The store had no record of this slave: it lost its data (or the slave is new,
            # or was marked dead). Rebuild the tables from its complete list now.
            TABLE_REBUILDS.inc()
            link.send(TableRequest())
        if wanted == SlaveState.DRAINING and beat.state == SlaveState.LIVE:
            link.send(Drain())
        elif wanted == SlaveState.LIVE and beat.state != SlaveState.LIVE and not beat.exiting:
            link.send(Undrain())

    async def session_added(self, link: Link, report: SessionAdd) -> None:
        if report.kind == SessionKind.VIEW:
            await stored(self.control.add_viewer_session(ViewerEntry.reported(link.slave_id, report.viewer())))
            await self.allowances.share(report.user)
            return
        previous = await stored(
            self.control.confirm_broadcast(report.user, report.session, link.slave_id, link.hello.addr, self.clock())
        )
        if previous is not None and previous.slave != link.slave_id and previous.session == report.session:
            # The broadcaster came back on another slave (after losing its old one, which
            # may still be up): the old slave sends the viewers it kept after it.
            await self.links.send(previous.slave, BroadcastElsewhere(report.user, report.session))
        if previous is None:
            await self.presence.announce(report.user)  # the webcam is on

    async def session_removed(self, link: Link, report: SessionRemove) -> None:
        if report.kind == SessionKind.VIEW:
            await stored(self.control.remove_viewer_session(report.user, report.session))
            await self.allowances.share(report.user)
        elif await stored(self.control.remove_broadcast(report.user, report.session, link.slave_id)):
            await self.presence.announce(report.user)

    async def session_table(self, link: Link, table: SessionTable) -> None:
        """A slave's complete session table: both tables are made to agree with it."""
        await stored(
            self.control.replace_slave_sessions(
                link.slave_id, link.hello.addr, list(table.broadcasts), self.clock(), self.pending_ttl
            )
        )
        changed = await stored(self.control.replace_slave_viewers(link.slave_id, list(table.viewers)))
        for user in changed | {v.user for v in table.viewers}:
            await self.allowances.share(user)

    async def sweep(self) -> None:
        """Every second: cut silent links, mark slaves whose heartbeats stopped as dead and
        clear their sessions, forget long-dead ones, and publish the gauges."""
        now = self.clock()
        self.links.abort_silent(now, self.dead_after)
        await stored(self.control.record_master(dataclasses.replace(self.me, heartbeat=now)))
        counts = dict.fromkeys(SlaveState, 0)
        slaves = await stored(self.control.slaves())
        for slave in slaves:
            state = effective_state(slave, now, self.dead_after, self.me.id)
            counts[state] += 1
            if state == SlaveState.DEAD and slave.state != SlaveState.DEAD:
                users, viewers = await stored(self.control.mark_dead(slave.id))
                self.log.warn(
                    "slave {slave} missed heartbeats; marked dead, cleared {users}", slave=slave.id, users=users
                )
                for viewer in viewers:
                    await self.allowances.share(viewer)
            if now - slave.heartbeat > self.forget_after:
                await stored(self.control.forget_slave(slave.id))
        for state, count in counts.items():
            SLAVES.labels(state).set(count)
        self._publish_heartbeat_ages(slaves, now)
        for other in await stored(self.control.masters()):
            if now - other.heartbeat > self.dead_after and other.id != self.me.id:
                await self.presence.forget_master(other.id)

    def _publish_heartbeat_ages(self, slaves: list[SlaveRecord], now: float) -> None:
        """One series per slave the cluster knows; the series of departed slaves are removed."""
        known = {s.id: now - s.heartbeat for s in slaves if now - s.heartbeat <= self.forget_after}
        for slave_id, age in known.items():
            SLAVE_HEARTBEAT_AGE.labels(slave_id).set(age)
        for slave_id in self._aged - known.keys():
            SLAVE_HEARTBEAT_AGE.remove(slave_id)
        self._aged = set(known)
