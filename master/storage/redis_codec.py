"""How the Redis store's data and errors map to the store's records and exceptions."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from typing import Any

from redis.exceptions import RedisError

from common.messages.cluster import SlaveState
from master.policy.records import BroadcastEntry, SlaveRecord, ViewerEntry
from master.storage.store import StoreUnavailable


def translated(cls: type) -> type:
    """Every public coroutine of the class raises StoreUnavailable instead of RedisError."""

    def wrap(method):
        @functools.wraps(method)
        async def translated(*args, **kwargs):
            try:
                return await method(*args, **kwargs)
            except (RedisError, OSError) as exc:
                raise StoreUnavailable(str(exc)) from None

        return translated

    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, wrap(member))
    return cls


def command(data: str) -> tuple[str, int, bytes] | None:
    """A published command, or None if it is malformed (it is dropped, the feed goes on)."""
    try:
        payload = json.loads(data)
        return str(payload["slave"]), int(payload["type"]), str(payload["body"]).encode()
    except (ValueError, TypeError, KeyError):
        return None


def event(data: str) -> tuple[tuple[str, ...], int, bytes] | None:
    """A published event, or None if it is malformed (it is dropped, the feed goes on)."""
    try:
        payload = json.loads(data)
        return tuple(str(u) for u in payload["users"]), int(payload["type"]), str(payload["body"]).encode()
    except (ValueError, TypeError, KeyError):
        return None


def moved_elsewhere(entry: BroadcastEntry | None, session: str, slave_id: str) -> bool:
    """The table already has this very session on another slave: it moved there."""
    return entry is not None and entry.session == session and entry.slave != slave_id


def to_json(record: Any) -> str:
    return json.dumps(dataclasses.asdict(record))


def text(value: Any) -> str:
    if isinstance(value, tuple):
        return json.dumps(value)
    return str(int(value)) if isinstance(value, bool) else str(value)


def pad(result: list) -> list:
    entry, slave, sessions = result
    return [entry, (list(slave) + [None] * 4)[:4], sessions]


def broadcast_entry(data: str) -> BroadcastEntry:
    return BroadcastEntry(**json.loads(data))


def viewer_entry(data: str) -> ViewerEntry:
    return ViewerEntry(**json.loads(data))


def slave_record(slave_id: str, row: dict[str, str], liveness: dict[str, str]) -> SlaveRecord:
    def live(name: str, default: str) -> str:
        return liveness.get(f"{name}:{slave_id}") or default

    return SlaveRecord(
        id=slave_id,
        addr=row["addr"],
        load=int(row.get("load") or 0),
        heartbeat=float(live("heartbeat", "0")),
        state=SlaveState(live("state", SlaveState.DEAD)),
        wanted=SlaveState(live("wanted", SlaveState.LIVE)),
        exiting=row.get("exiting") == "1",
        placed=int(live("placed", "0")),
        broadcasts=int(row.get("broadcasts") or 0),
        viewers=int(row.get("viewers") or 0),
        turbo_viewers=int(row.get("turbo_viewers") or 0),
        turbo_bytes=int(row.get("turbo_bytes") or 0),
        metrics=row.get("metrics", ""),
        web=live("web", ""),
        master=row.get("master", ""),
        container=row.get("container", ""),
        relays=tuple((str(target), str(upstream)) for target, upstream in json.loads(row.get("relays") or "[]")),
    )
