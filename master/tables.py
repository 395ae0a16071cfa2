"""The cluster tables in Redis (features C2 and C4), shared by every master.

Keys, all under a configurable prefix (default ``fc:``):

* ``slaves``        set of slave ids ever heard from (until forgotten)
* ``slave:<id>``    hash: addr, metrics, load, broadcasts, viewers, state, heartbeat (epoch
                    seconds of the last heartbeat), placed (placements since that
                    heartbeat), master (id of the master it talks to)
* ``broadcasts``    hash: user -> JSON {user, session, slave, addr, updated, confirmed}, the
                    master session table. An entry is written unconfirmed when a master
                    places a broadcast, and confirmed when the slave reports the session.
* ``masters``       hash: master id -> JSON {id, addr, heartbeat}
* ``viewers:<user>`` hash: viewer session id -> JSON {target, slave, speed_cap, allowance},
                    the master viewer-session table (C3): what each user watches, where
* ``viewer-users``  set of users with viewer sessions (to find a slave's sessions)
* ``commands``      pub/sub channel: JSON {slave, type, fields} for the master holding
                    that slave's link (caps computed by one master, sent by another)

Slaves are the source of truth: every slave sends its complete session table when it
connects and every refresh interval, so these tables rebuild themselves if Redis loses
them.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from master.placement import DEAD, SlaveRecord

# Claim the session-table entry for a new broadcast, atomically across masters (S9).
# Returns {status, entry}: "claimed" (entry written for the chosen slave), "existing" (the
# same broadcast session reconnecting while its slave is live: keep it there), or "busy"
# (another session of this user is on a slave that has not died). ARGV[9] = "1" forces a
# move of the same session to the chosen slave (drain, rebalance).
_CLAIM_SCRIPT = """
local now = tonumber(ARGV[5])
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local entry = cjson.decode(current)
  local key = ARGV[8] .. 'slave:' .. entry.slave
  local heartbeat = tonumber(redis.call('HGET', key, 'heartbeat') or '0')
  local state = redis.call('HGET', key, 'state')
  if now - heartbeat < tonumber(ARGV[6]) and state ~= 'dead' then
    if entry.session ~= ARGV[2] then
      if entry.confirmed or now - entry.updated < tonumber(ARGV[7]) then return {'busy', current} end
    elseif ARGV[9] ~= '1' and state == 'live' then
      return {'existing', current}
    end
  end
end
local entry = cjson.encode({user=ARGV[1], session=ARGV[2], slave=ARGV[3], addr=ARGV[4],
                            updated=now, confirmed=false})
redis.call('HSET', KEYS[1], ARGV[1], entry)
redis.call('HINCRBY', ARGV[8] .. 'slave:' .. ARGV[3], 'placed', 1)
return {'claimed', entry}
"""

# Delete a session-table entry only if it still belongs to the given session and slave, so
# a late "removed" report never deletes the entry of a newer broadcast elsewhere.
_REMOVE_SCRIPT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local entry = cjson.decode(current)
if entry.session == ARGV[2] and entry.slave == ARGV[3] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# A viewer redirect's reads in one call: the broadcast entry, its slave's record, and the
# viewing user's sessions (hash fields and values, flattened).
_LOCATE_SCRIPT = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
local slave = {}
if entry then slave = redis.call('HGETALL', ARGV[2] .. cjson.decode(entry).slave) end
return {entry or false, slave, redis.call('HGETALL', KEYS[2])}
"""

# Remove a viewer session; the user leaves the set of viewing users with its last one.
_REMOVE_VIEWER_SCRIPT = """
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
"""

_INT_FIELDS = ("load", "placed", "broadcasts", "viewers")
_TEXT_FIELDS = ("metrics", "master", "container")


class Tables:
    def __init__(self, client: aioredis.Redis, prefix: str = "fc:"):
        self.redis = client
        self.prefix = prefix
        self.broadcasts_key = prefix + "broadcasts"
        self._claim = client.register_script(_CLAIM_SCRIPT)
        self._remove = client.register_script(_REMOVE_SCRIPT)
        self._locate = client.register_script(_LOCATE_SCRIPT)
        self._remove_viewer = client.register_script(_REMOVE_VIEWER_SCRIPT)

    def _slave_key(self, slave_id: str) -> str:
        return f"{self.prefix}slave:{slave_id}"

    # --- slave registry -------------------------------------------------------------
    async def record_heartbeat(self, slave_id: str, fields: dict[str, Any]) -> bool:
        """Store a slave's heartbeat, resetting its placements-since-heartbeat count. True if
        the tables may lack the slave's sessions: Redis had no record of it (it is new, or
        Redis lost its data) or it had been marked dead (its sessions were cleared)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self.prefix + "slaves", slave_id)
            pipe.hget(self._slave_key(slave_id), "state")
            pipe.hset(self._slave_key(slave_id), mapping={**fields, "placed": 0})
            _, previous_state, created_fields = await pipe.execute()
        return created_fields > 0 or previous_state == DEAD

    async def slaves(self) -> list[SlaveRecord]:
        ids = sorted(await self.redis.smembers(self.prefix + "slaves"))
        async with self.redis.pipeline(transaction=False) as pipe:
            for slave_id in ids:
                pipe.hgetall(self._slave_key(slave_id))
            rows = await pipe.execute()
        return [_slave_record(slave_id, row) for slave_id, row in zip(ids, rows) if row.get("addr")]

    async def mark_dead(self, slave_id: str) -> tuple[list[str], set[str]]:
        """Mark a slave dead and clear its entries in both tables; returns the broadcasters
        cleared and the viewing users whose sessions were cleared."""
        await self.redis.hset(self._slave_key(slave_id), "state", DEAD)
        entries = [e for e in await self.broadcasts() if e["slave"] == slave_id]
        for entry in entries:
            await self.remove_broadcast(entry["user"], entry["session"], slave_id)  # unless it just moved
        return [e["user"] for e in entries], await self.replace_slave_viewers(slave_id, [])

    async def set_slave_state(self, slave_id: str, state: str) -> None:
        await self.redis.hset(self._slave_key(slave_id), "state", state)

    async def forget_slave(self, slave_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(self.prefix + "slaves", slave_id)
            pipe.delete(self._slave_key(slave_id))
            await pipe.execute()

    # --- master session table -------------------------------------------------------
    async def claim_broadcast(
        self,
        user: str,
        session: str,
        slave: SlaveRecord,
        now: float,
        dead_after: float,
        pending_ttl: float,
        move: bool = False,
    ) -> tuple[str, dict[str, Any]]:
        status, entry = await self._claim(
            keys=[self.broadcasts_key],
            args=[user, session, slave.id, slave.addr, now, dead_after, pending_ttl, self.prefix, int(move)],
        )
        return status, json.loads(entry)

    async def confirm_broadcast(
        self, user: str, session: str, slave_id: str, addr: str, now: float
    ) -> dict[str, Any] | None:
        """Record that the slave holds the broadcast; returns the confirmed entry it replaced."""
        entry = {"user": user, "session": session, "slave": slave_id, "addr": addr, "updated": now, "confirmed": True}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.broadcasts_key, user)
            pipe.hset(self.broadcasts_key, user, json.dumps(entry))
            previous, _ = await pipe.execute()
        previous = json.loads(previous) if previous else None
        return previous if previous and previous.get("confirmed") else None

    async def remove_broadcast(self, user: str, session: str, slave_id: str) -> bool:
        return bool(await self._remove(keys=[self.broadcasts_key], args=[user, session, slave_id]))

    async def broadcasts(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in (await self.redis.hgetall(self.broadcasts_key)).values()]

    async def replace_slave_sessions(
        self, slave_id: str, addr: str, sessions: list[dict[str, str]], now: float, pending_ttl: float
    ) -> None:
        """Make the table agree with a slave's complete session list (the refresh of C4).

        Entries of this slave that it no longer reports are dropped, except placements still
        on their way to it (unconfirmed and younger than ``pending_ttl``).
        """
        current = {e["user"]: e for e in await self.broadcasts()}
        reported = {
            s["user"]: s["session"]
            for s in sessions
            if not _moved_elsewhere(current.get(s["user"]), s["session"], slave_id)
        }
        stale = [
            e["user"]
            for e in current.values()
            if e["slave"] == slave_id
            and e["user"] not in reported
            and (e.get("confirmed") or now - e.get("updated", 0) >= pending_ttl)
        ]
        async with self.redis.pipeline(transaction=True) as pipe:
            if stale:
                pipe.hdel(self.broadcasts_key, *stale)
            for user, session in reported.items():
                entry = {
                    "user": user,
                    "session": session,
                    "slave": slave_id,
                    "addr": addr,
                    "updated": now,
                    "confirmed": True,
                }
                pipe.hset(self.broadcasts_key, user, json.dumps(entry))
            await pipe.execute()

    # --- master viewer-session table (C3) ----------------------------------------------
    def _viewers_key(self, user: str) -> str:
        return f"{self.prefix}viewers:{user}"

    async def add_viewer_session(self, user: str, session: str, entry: dict[str, Any]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self.prefix + "viewer-users", user)
            pipe.hset(self._viewers_key(user), session, json.dumps(entry))
            await pipe.execute()

    async def remove_viewer_session(self, user: str, session: str) -> None:
        await self._remove_viewer(keys=[self._viewers_key(user), self.prefix + "viewer-users"], args=[session, user])

    async def locate(self, target: str, viewer: str) -> tuple[dict | None, SlaveRecord | None, dict[str, dict]]:
        """What a viewer redirect needs, in one round trip: the broadcast's entry, the record
        of the slave it names, and the viewing user's open sessions."""
        entry, slave_row, sessions = await self._locate(
            keys=[self.broadcasts_key, self._viewers_key(viewer)], args=[target, self.prefix + "slave:"]
        )
        entry = json.loads(entry) if entry else None
        slave_row = dict(zip(slave_row[::2], slave_row[1::2]))
        slave = _slave_record(entry["slave"], slave_row) if entry and slave_row.get("addr") else None
        return entry, slave, {s: json.loads(e) for s, e in zip(sessions[::2], sessions[1::2])}

    async def viewer_sessions(self, user: str) -> dict[str, dict[str, Any]]:
        rows = await self.redis.hgetall(self._viewers_key(user))
        return {session: json.loads(entry) for session, entry in rows.items()}

    async def all_viewer_sessions(self) -> dict[str, dict[str, dict[str, Any]]]:
        users = sorted(await self.redis.smembers(self.prefix + "viewer-users"))
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.hgetall(self._viewers_key(user))
            rows = await pipe.execute()
        return {user: {s: json.loads(e) for s, e in row.items()} for user, row in zip(users, rows) if row}

    async def replace_slave_viewers(self, slave_id: str, reported: list[dict[str, Any]]) -> set[str]:
        """Make C3 agree with a slave's complete list of viewer sessions; returns the users
        whose sessions changed."""
        current = await self.all_viewer_sessions()
        stale = {(user, s) for user, sessions in current.items() for s, e in sessions.items() if e["slave"] == slave_id}
        fresh = {(v["user"], v["session"]) for v in reported}
        for user, session in stale - fresh:
            await self.remove_viewer_session(user, session)
        async with self.redis.pipeline(transaction=True) as pipe:
            for v in reported:
                if (v["user"], v["session"]) not in stale:
                    pipe.sadd(self.prefix + "viewer-users", v["user"])
                    pipe.hset(self._viewers_key(v["user"]), v["session"], json.dumps(viewer_entry(slave_id, v)))
            await pipe.execute()
        return {user for user, _ in stale ^ fresh}

    async def publish_command(self, slave_id: str, msg_type: int, fields: dict[str, Any]) -> None:
        await self.redis.publish(
            self.prefix + "commands", json.dumps({"slave": slave_id, "type": msg_type, "fields": fields})
        )

    # --- masters --------------------------------------------------------------------
    async def record_master(self, master_id: str, info: dict[str, Any]) -> None:
        await self.redis.hset(self.prefix + "masters", master_id, json.dumps(info))

    async def masters(self) -> list[dict[str, Any]]:
        rows = await self.redis.hgetall(self.prefix + "masters")
        return sorted((json.loads(v) for v in rows.values()), key=lambda m: m["id"])


def _moved_elsewhere(entry: dict[str, Any] | None, session: str, slave_id: str) -> bool:
    """The table already has this very session on another slave: it moved there."""
    return bool(entry and entry["session"] == session and entry["slave"] != slave_id)


def viewer_entry(slave_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """A C3 entry from a slave's report of a viewer session."""
    return {
        "target": report.get("target"),
        "slave": slave_id,
        "speed_cap": report.get("speed_cap"),
        "allowance": report.get("allowance"),
    }


def _slave_record(slave_id: str, row: dict[str, str]) -> SlaveRecord:
    ints = {name: int(float(row.get(name) or 0)) for name in _INT_FIELDS}
    return SlaveRecord(
        id=slave_id,
        addr=row["addr"],
        heartbeat=float(row.get("heartbeat") or 0),
        state=row.get("state", "live"),
        **{name: row.get(name, "") for name in _TEXT_FIELDS},
        **ints,
    )
