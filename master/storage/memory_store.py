"""An in-memory ``Store`` for tests: the same behaviour as ``RedisStore`` (the shared store
tests hold both to it), kept in dictionaries. Several masters in one test share one
``MemoryState``, as real masters share one Redis; ``available`` simulates an outage."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field
from typing import AsyncIterator

from common.messages.cluster import BroadcastReport, SlaveState, ViewerReport
from common.messages.schema import Control
from common.ratelimit import gcra
from master.policy.claim import Claim, decide_claim
from master.policy.records import BroadcastEntry, MasterRecord, SlaveRecord, ViewerEntry
from master.storage.store import StoreUnavailable


@dataclass
class MemoryState:
    slaves: dict[str, SlaveRecord] = field(default_factory=dict)
    broadcasts: dict[str, BroadcastEntry] = field(default_factory=dict)
    viewers: dict[tuple[str, str], ViewerEntry] = field(default_factory=dict)
    masters: dict[str, MasterRecord] = field(default_factory=dict)
    presence: dict[tuple[str, str], int] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)  # single-use key -> when it may be forgotten
    feeds: list[asyncio.Queue] = field(default_factory=list)
    event_feeds: list[asyncio.Queue] = field(default_factory=list)
    available: bool = True


class MemoryStore:
    def __init__(self, state: MemoryState | None = None):
        self.state = state or MemoryState()

    def _up(self) -> MemoryState:
        if not self.state.available:
            raise StoreUnavailable("the memory store is switched off")
        return self.state

    # --- slave registry -------------------------------------------------------------
    async def record_heartbeat(self, slave: SlaveRecord) -> tuple[bool, SlaveState]:
        slaves = self._up().slaves
        previous = slaves.get(slave.id)
        wanted = previous.wanted if previous else SlaveState.LIVE
        slaves[slave.id] = dataclasses.replace(slave, wanted=wanted, placed=0)
        return previous is None or previous.state == SlaveState.DEAD, wanted

    async def slaves(self) -> list[SlaveRecord]:
        return sorted(self._up().slaves.values(), key=lambda s: s.id)

    async def set_wanted_state(self, slave_id: str, state: SlaveState) -> None:
        self._update_slave(slave_id, wanted=state)

    async def mark_dead(self, slave_id: str) -> tuple[list[str], set[str]]:
        self._update_slave(slave_id, state=SlaveState.DEAD)
        users = [e.user for e in self._up().broadcasts.values() if e.slave == slave_id]
        for user in users:
            del self.state.broadcasts[user]
        return users, await self.replace_slave_viewers(slave_id, [])

    async def forget_slave(self, slave_id: str) -> None:
        self._up().slaves.pop(slave_id, None)

    def _update_slave(self, slave_id: str, **changes) -> None:
        slave = self._up().slaves.get(slave_id)
        if slave is not None:
            self.state.slaves[slave_id] = dataclasses.replace(slave, **changes)

    # --- master session table (C2) ---------------------------------------------------
    async def claim_broadcast(
        self, user: str, session: str, slave: SlaveRecord, now: float, dead_after: float, pending_ttl: float, move: bool
    ) -> tuple[Claim, BroadcastEntry]:
        state = self._up()
        current = state.broadcasts.get(user)
        holder = state.slaves.get(current.slave) if current else None
        claim = decide_claim(current, holder, session, now, dead_after, pending_ttl, move)
        if claim != Claim.CLAIMED:
            return claim, current
        entry = state.broadcasts[user] = BroadcastEntry(user, session, slave.id, slave.addr, now)
        if slave.id in state.slaves:
            self._update_slave(slave.id, placed=state.slaves[slave.id].placed + 1)
        return claim, entry

    async def confirm_broadcast(
        self, user: str, session: str, slave_id: str, addr: str, now: float
    ) -> BroadcastEntry | None:
        broadcasts = self._up().broadcasts
        previous = broadcasts.get(user)
        broadcasts[user] = BroadcastEntry(user, session, slave_id, addr, now, confirmed=True)
        return previous if previous is not None and previous.confirmed else None

    async def remove_broadcast(self, user: str, session: str, slave_id: str) -> bool:
        entry = self._up().broadcasts.get(user)
        if entry is None or entry.session != session or entry.slave != slave_id:
            return False
        del self.state.broadcasts[user]
        return True

    async def broadcasts(self) -> list[BroadcastEntry]:
        return list(self._up().broadcasts.values())

    async def replace_slave_sessions(
        self, slave_id: str, addr: str, reports: list[BroadcastReport], now: float, pending_ttl: float
    ) -> None:
        broadcasts = self._up().broadcasts
        reported = {}
        for report in reports:
            entry = broadcasts.get(report.user)
            if not (entry and entry.session == report.session and entry.slave != slave_id):
                reported[report.user] = report.session
        for user, entry in list(broadcasts.items()):
            if (
                entry.slave == slave_id
                and user not in reported
                and (entry.confirmed or now - entry.updated >= pending_ttl)
            ):
                del broadcasts[user]
        for user, session in reported.items():
            broadcasts[user] = BroadcastEntry(user, session, slave_id, addr, now, confirmed=True)

    # --- viewer-session table (C3) -----------------------------------------------------
    async def add_viewer_session(self, entry: ViewerEntry) -> None:
        self._up().viewers[entry.user, entry.session] = entry

    async def remove_viewer_session(self, user: str, session: str) -> None:
        self._up().viewers.pop((user, session), None)

    async def locate(
        self, target: str, viewer: str
    ) -> tuple[BroadcastEntry | None, SlaveRecord | None, list[ViewerEntry]]:
        state = self._up()
        entry = state.broadcasts.get(target)
        slave = state.slaves.get(entry.slave) if entry else None
        return entry, slave, await self.viewer_sessions(viewer)

    async def viewer_sessions(self, user: str) -> list[ViewerEntry]:
        return [e for (u, _), e in self._up().viewers.items() if u == user]

    async def all_viewer_sessions(self) -> list[ViewerEntry]:
        return list(self._up().viewers.values())

    async def replace_slave_viewers(self, slave_id: str, reports: list[ViewerReport]) -> set[str]:
        viewers = self._up().viewers
        stale = {key for key, e in viewers.items() if e.slave == slave_id}
        fresh = {(r.user, r.session) for r in reports}
        for key in stale - fresh:
            del viewers[key]
        for report in reports:
            if (report.user, report.session) not in stale:
                viewers[report.user, report.session] = ViewerEntry.reported(slave_id, report)
        return {user for user, _ in stale ^ fresh}

    # --- commands for slaves linked to other masters ----------------------------------
    async def publish_command(self, slave_id: str, message: Control) -> None:
        for queue in self._up().feeds:
            queue.put_nowait((slave_id, message.TYPE, json.dumps(message.fields()).encode()))

    async def command_feed(self) -> AsyncIterator[tuple[str, int, bytes]]:
        queue: asyncio.Queue = asyncio.Queue()
        self._up().feeds.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self.state.feeds.remove(queue)

    # --- masters -----------------------------------------------------------------------
    async def record_master(self, master: MasterRecord) -> None:
        self._up().masters[master.id] = master

    async def masters(self) -> list[MasterRecord]:
        return sorted(self._up().masters.values(), key=lambda m: m.id)

    # --- users' attached sessions: presence and pushed events ------------------------------
    async def presence_change(self, master_id: str, user: str, delta: int) -> None:
        presence = self._up().presence
        count = presence.get((master_id, user), 0) + delta
        if count > 0:
            presence[master_id, user] = count
        else:
            presence.pop((master_id, user), None)

    async def clear_presence(self, master_id: str) -> list[str]:
        presence = self._up().presence
        users = sorted(user for master, user in presence if master == master_id)
        for user in users:
            del presence[master_id, user]
        return users

    async def online(self, users: list[str], masters: list[str]) -> set[str]:
        presence = self._up().presence
        return {user for user in users if any((master, user) in presence for master in masters)}

    async def publish_event(self, users: list[str], event: Control) -> None:
        for queue in self._up().event_feeds:
            queue.put_nowait((tuple(users), event.TYPE, json.dumps(event.fields()).encode()))

    async def use_once(self, key: str, now: float, ttl: float) -> bool:
        used = self._up().used
        if used.get(key, 0.0) > now:
            return False
        used[key] = now + ttl
        return True

    async def limit(self, key: str, now: float, rate: float, burst: int, count: bool = True) -> float:
        limits = self._up().limits
        wait, tat = gcra(limits.get(key), now, rate, burst)
        if tat is not None and count:
            limits[key] = tat
        return wait

    async def event_feed(self) -> AsyncIterator[tuple[tuple[str, ...], int, bytes]]:
        queue: asyncio.Queue = asyncio.Queue()
        self._up().event_feeds.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self.state.event_feeds.remove(queue)
