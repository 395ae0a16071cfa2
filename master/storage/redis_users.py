"""The Redis store's keys for users: presence counts per master, the stream of events
pushed to sessions, and rate limits (part of ``RedisStore``)."""

from __future__ import annotations

import json
from typing import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from common.messages.schema import Control
from master.storage import redis_codec as codec, redis_scripts
from master.storage.store import StoreUnavailable

EVENTS_KEPT = 10_000
EVENT_WAIT_MS = 1000  # under the client's socket timeout, so a quiet feed is not taken for a lost one


@codec.translated
class RedisUserState:
    def __init__(self, client: aioredis.Redis, prefix: str):
        self._presence = client.register_script(redis_scripts.PRESENCE)
        self._rate_limit = client.register_script(redis_scripts.RATE_LIMIT)
        self._events = prefix + "events"
        self._last_event: str | None = None  # a feed subscribed again resumes after the last event read
        self._limits = prefix + "limit:"
        self._used = prefix + "used:"

    # --- users' attached sessions: presence and pushed events ------------------------------
    def _presence_key(self, master_id: str) -> str:
        return f"{self.prefix}presence:{master_id}"

    async def presence_change(self, master_id: str, user: str, delta: int) -> None:
        await self._presence(keys=[self._presence_key(master_id)], args=[user, delta])

    async def clear_presence(self, master_id: str) -> list[str]:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hkeys(self._presence_key(master_id))
            pipe.delete(self._presence_key(master_id))
            users, _ = await pipe.execute()
        return sorted(users)

    async def online(self, users: list[str], masters: list[str]) -> set[str]:
        if not users or not masters:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for master_id in masters:
                pipe.hmget(self._presence_key(master_id), users)
            rows = await pipe.execute()
        return {user for row in rows for user, count in zip(users, row) if count and int(count) > 0}

    async def publish_event(self, users: list[str], event: Control) -> None:
        payload = {"users": list(users), "type": event.TYPE, "body": json.dumps(event.fields())}
        await self.redis.xadd(self._events, {"e": json.dumps(payload)}, maxlen=EVENTS_KEPT, approximate=True)

    async def limit(self, key: str, now: float, rate: float, burst: int, count: bool = True) -> float:
        return float(await self._rate_limit(keys=[self._limits + key], args=[now, rate, burst, int(count)]))

    async def use_once(self, key: str, now: float, ttl: float) -> bool:
        return bool(await self.redis.set(self._used + key, "1", nx=True, px=max(1, int(ttl * 1000))))

    async def event_feed(self) -> AsyncIterator[tuple[tuple[str, ...], int, bytes]]:
        try:
            if self._last_event is None:  # from now on: after the newest event so far
                newest = await self.redis.xrevrange(self._events, count=1)
                self._last_event = newest[0][0] if newest else "0-0"
            last = self._last_event
            while True:
                for _, entries in await self.redis.xread({self._events: last}, count=500, block=EVENT_WAIT_MS) or []:
                    for entry_id, fields in entries:
                        last = self._last_event = entry_id
                        event = codec.event(fields.get("e", ""))
                        if event is not None:
                            yield event
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from None
