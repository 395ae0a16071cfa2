"""The cluster tables in Redis (features C2, C3, C4), shared by every master.

Keys, all under a configurable prefix (default ``fc:``):

* ``slaves``         set of slave ids ever heard from (until forgotten)
* ``slave:<id>``     hash: addr, metrics, container, master (the master it talks to), load,
                     broadcasts, viewers, exiting
* ``slave-state``    hash: ``heartbeat:<id>`` (epoch seconds), ``state:<id>`` (reported, or
                     dead), ``wanted:<id>`` (an operator's live/draining), ``placed:<id>``
                     (broadcasts placed since the heartbeat), ``web:<id>`` (its HTTP address)
* ``broadcasts``     hash: user -> JSON ``BroadcastEntry`` (C2)
* ``viewers:<user>`` hash: viewer session -> JSON ``ViewerEntry`` (C3)
* ``viewer-users``   set of users with viewer sessions
* ``masters``        hash: master id -> JSON ``MasterRecord``
* ``commands``       pub/sub channel: commands for the master holding a slave's link
* ``presence:<master>`` hash: user -> sessions attached to that master
* ``events``         stream: events for users' attached sessions (JSON users, type, body),
                     capped at ``EVENTS_KEPT`` entries
"""

from __future__ import annotations

import json
from typing import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from common.messages.cluster import BroadcastReport, SlaveState, ViewerReport
from common.messages.schema import Control
from master.policy.claim import Claim
from master.policy.records import BroadcastEntry, MasterRecord, SlaveRecord, ViewerEntry
from master.storage import redis_codec as codec, redis_scripts
from master.storage.redis_users import RedisUserState
from master.storage.store import StoreUnavailable

_DETAILS = (
    "addr",
    "metrics",
    "container",
    "master",
    "load",
    "broadcasts",
    "viewers",
    "turbo_viewers",
    "turbo_bytes",
    "exiting",
    "relays",
)
_LIVENESS = ("heartbeat", "state", "wanted", "placed", "web")


@codec.translated
class RedisStore(RedisUserState):
    def __init__(self, client: aioredis.Redis, prefix: str = "fc:"):
        self.redis = client
        self.prefix = prefix
        self._broadcasts = prefix + "broadcasts"
        self._slave_state = prefix + "slave-state"
        self._viewer_users = prefix + "viewer-users"
        self._heartbeat = client.register_script(redis_scripts.HEARTBEAT)
        self._claim = client.register_script(redis_scripts.CLAIM)
        self._remove = client.register_script(redis_scripts.REMOVE)
        self._locate = client.register_script(redis_scripts.LOCATE)
        self._remove_viewer = client.register_script(redis_scripts.REMOVE_VIEWER)
        RedisUserState.__init__(self, client, prefix)

    def _slave_key(self, slave_id: str) -> str:
        return f"{self.prefix}slave:{slave_id}"

    def _viewers_key(self, user: str) -> str:
        return f"{self.prefix}viewers:{user}"

    # --- slave registry -------------------------------------------------------------
    async def record_heartbeat(self, slave: SlaveRecord) -> tuple[bool, SlaveState]:
        details = [value for name in _DETAILS for value in (name, codec.text(getattr(slave, name)))]
        keys = [self.prefix + "slaves", self._slave_key(slave.id), self._slave_state]
        lacking, wanted = await self._heartbeat(
            keys=keys, args=[slave.id, slave.heartbeat, slave.state, slave.web, *details]
        )
        return bool(lacking), SlaveState(wanted or SlaveState.LIVE)

    async def slaves(self) -> list[SlaveRecord]:
        ids = sorted(await self.redis.smembers(self.prefix + "slaves"))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._slave_state)
            for slave_id in ids:
                pipe.hgetall(self._slave_key(slave_id))
            liveness, *rows = await pipe.execute()
        return [codec.slave_record(i, row, liveness) for i, row in zip(ids, rows) if row.get("addr")]

    async def set_wanted_state(self, slave_id: str, state: SlaveState) -> None:
        await self.redis.hset(self._slave_state, f"wanted:{slave_id}", state)

    async def mark_dead(self, slave_id: str) -> tuple[list[str], set[str]]:
        await self.redis.hset(self._slave_state, f"state:{slave_id}", SlaveState.DEAD)
        entries = [e for e in await self.broadcasts() if e.slave == slave_id]
        for entry in entries:
            await self.remove_broadcast(entry.user, entry.session, slave_id)  # unless it just moved
        return [e.user for e in entries], await self.replace_slave_viewers(slave_id, [])

    async def forget_slave(self, slave_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(self.prefix + "slaves", slave_id)
            pipe.delete(self._slave_key(slave_id))
            pipe.hdel(self._slave_state, *(f"{name}:{slave_id}" for name in _LIVENESS))
            await pipe.execute()

    # --- master session table (C2) ---------------------------------------------------
    async def claim_broadcast(
        self, user: str, session: str, slave: SlaveRecord, now: float, dead_after: float, pending_ttl: float, move: bool
    ) -> tuple[Claim, BroadcastEntry]:
        args = [user, session, slave.id, slave.addr, now, dead_after, pending_ttl, int(move)]
        status, entry = await self._claim(keys=[self._broadcasts, self._slave_state], args=args)
        return Claim(status), codec.broadcast_entry(entry)

    async def confirm_broadcast(
        self, user: str, session: str, slave_id: str, addr: str, now: float
    ) -> BroadcastEntry | None:
        entry = BroadcastEntry(user, session, slave_id, addr, now, confirmed=True)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._broadcasts, user)
            pipe.hset(self._broadcasts, user, codec.to_json(entry))
            previous, _ = await pipe.execute()
        previous = codec.broadcast_entry(previous) if previous else None
        return previous if previous is not None and previous.confirmed else None

    async def remove_broadcast(self, user: str, session: str, slave_id: str) -> bool:
        return bool(await self._remove(keys=[self._broadcasts], args=[user, session, slave_id]))

    async def broadcasts(self) -> list[BroadcastEntry]:
        return [codec.broadcast_entry(v) for v in (await self.redis.hgetall(self._broadcasts)).values()]

    async def replace_slave_sessions(
        self, slave_id: str, addr: str, reports: list[BroadcastReport], now: float, pending_ttl: float
    ) -> None:
        current = {e.user: e for e in await self.broadcasts()}
        reported = {
            r.user: r.session for r in reports if not codec.moved_elsewhere(current.get(r.user), r.session, slave_id)
        }
        stale = [
            e.user
            for e in current.values()
            if e.slave == slave_id and e.user not in reported and (e.confirmed or now - e.updated >= pending_ttl)
        ]
        async with self.redis.pipeline(transaction=True) as pipe:
            if stale:
                pipe.hdel(self._broadcasts, *stale)
            for user, session in reported.items():
                entry = BroadcastEntry(user, session, slave_id, addr, now, confirmed=True)
                pipe.hset(self._broadcasts, user, codec.to_json(entry))
            await pipe.execute()

    # --- viewer-session table (C3) -----------------------------------------------------
    async def add_viewer_session(self, entry: ViewerEntry) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self._viewer_users, entry.user)
            pipe.hset(self._viewers_key(entry.user), entry.session, codec.to_json(entry))
            await pipe.execute()

    async def remove_viewer_session(self, user: str, session: str) -> None:
        await self._remove_viewer(keys=[self._viewers_key(user), self._viewer_users], args=[session, user])

    async def locate(
        self, target: str, viewer: str
    ) -> tuple[BroadcastEntry | None, SlaveRecord | None, list[ViewerEntry]]:
        keys = [self._broadcasts, self._slave_state, self._viewers_key(viewer)]
        entry, (heartbeat, state, wanted, web), sessions = codec.pad(await self._locate(keys=keys, args=[target]))
        entry = codec.broadcast_entry(entry) if entry else None
        slave = None
        if entry is not None and state is not None:
            slave = SlaveRecord(
                entry.slave,
                entry.addr,
                0,
                float(heartbeat or 0),
                SlaveState(state),
                SlaveState(wanted or SlaveState.LIVE),
                web=web or "",
            )
        return entry, slave, [codec.viewer_entry(e) for e in sessions[1::2]]

    async def viewer_sessions(self, user: str) -> list[ViewerEntry]:
        return [codec.viewer_entry(e) for e in (await self.redis.hgetall(self._viewers_key(user))).values()]

    async def all_viewer_sessions(self) -> list[ViewerEntry]:
        users = sorted(await self.redis.smembers(self._viewer_users))
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.hgetall(self._viewers_key(user))
            rows = await pipe.execute()
        return [codec.viewer_entry(e) for row in rows for e in row.values()]

    async def replace_slave_viewers(self, slave_id: str, reports: list[ViewerReport]) -> set[str]:
        stale = {(e.user, e.session) for e in await self.all_viewer_sessions() if e.slave == slave_id}
        fresh = {(r.user, r.session) for r in reports}
        for user, session in stale - fresh:
            await self.remove_viewer_session(user, session)
        async with self.redis.pipeline(transaction=True) as pipe:
            for report in reports:
                if (report.user, report.session) not in stale:
                    pipe.sadd(self._viewer_users, report.user)
                    pipe.hset(
                        self._viewers_key(report.user),
                        report.session,
                        codec.to_json(ViewerEntry.reported(slave_id, report)),
                    )
            await pipe.execute()
        return {user for user, _ in stale ^ fresh}

    # --- commands for slaves linked to other masters ----------------------------------
    async def publish_command(self, slave_id: str, message: Control) -> None:
        payload = {"slave": slave_id, "type": message.TYPE, "body": json.dumps(message.fields())}
        await self.redis.publish(self.prefix + "commands", json.dumps(payload))

    async def command_feed(self) -> AsyncIterator[tuple[str, int, bytes]]:
        try:
            async with self.redis.pubsub() as pubsub:
                await pubsub.subscribe(self.prefix + "commands")
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        command = codec.command(message["data"])
                        if command is not None:
                            yield command
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from None

    # --- masters -----------------------------------------------------------------------
    async def record_master(self, master: MasterRecord) -> None:
        await self.redis.hset(self.prefix + "masters", master.id, codec.to_json(master))

    async def masters(self) -> list[MasterRecord]:
        rows = await self.redis.hgetall(self.prefix + "masters")
        return sorted((MasterRecord(**json.loads(v)) for v in rows.values()), key=lambda m: m.id)
