"""The master's logic: placement, redirects, the slave registry and cluster status.

Protocol classes (``client_port``, ``slave_port``) parse messages and call these methods;
everything that touches Redis goes through ``Tables``, everything that touches PostgreSQL
through ``UserStore``. Redis is reached from Twisted code through ``as_deferred``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError
from twisted.logger import Logger

from common.messaging import RequestError
from common.reactor import as_deferred
from common.tokens import CredentialError, Signer
from common.protocol import MessageType as T
from master.budget import DEFAULT_ALLOWANCES, SpeedPolicy, parse_levels, session_caps
from master.placement import DEAD, DRAINING, LIVE, choose_slave, effective_state, plan_rebalance
from master.tables import Tables, viewer_entry
from master.users import UserStore

PLACEMENTS = Counter(
    "framecast_master_placements_total",
    "Broadcast placements: new, reconnect (back to its slave), failover (its slave was lost), "
    "moved (drain or rebalance), refused, no_slave",
    ["result"],
)
REDIRECTS = Counter("framecast_master_redirects_total", "Redirects sent to clients", ["kind"])
LOGINS = Counter("framecast_master_logins_total", "Login attempts", ["result"])
OPERATIONS = Counter("framecast_master_operations_total", "Operator commands carried out", ["command"])
TABLE_REBUILDS = Counter(
    "framecast_master_table_rebuilds_total", "Complete tables asked of slaves after Redis lost them"
)
HEARTBEATS = Counter("framecast_master_heartbeats_total", "Slave heartbeats received")
SLAVES = Gauge("framecast_master_slaves", "Slaves known to the cluster, by state", ["state"])
CAP_UPDATES = Counter("framecast_master_cap_updates_total", "Viewer-session caps sent to slaves", ["route"])
SLAVE_HEARTBEAT_AGE = Gauge(
    "framecast_master_slave_heartbeat_age_seconds", "Age of each slave's last heartbeat", ["slave"]
)


@dataclass
class MasterConfig:
    id: str
    client_addr: str
    slave_addr: str
    metrics_addr: str = ""
    dead_after: float = 3.0
    pending_ttl: float = 10.0
    forget_after: float = 300.0
    speed_policy: SpeedPolicy = field(default_factory=SpeedPolicy)
    allowances: dict[str, float] = field(default_factory=lambda: parse_levels(DEFAULT_ALLOWANCES))


class Master:
    log = Logger()

    def __init__(
        self,
        config: MasterConfig,
        tables: Tables,
        users: UserStore,
        signer: Signer,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.tables = tables
        self.users = users
        self.signer = signer
        self.clock = clock
        self.slave_links: dict[str, Any] = {}

    # --- users ----------------------------------------------------------------------
    async def login(self, name: str, password: str) -> dict[str, Any]:
        try:
            level = await self.users.authenticate(name, password)
        except RequestError as exc:
            LOGINS.labels(exc.code).inc()
            raise
        LOGINS.labels("ok").inc()
        return {
            "user": name,
            "token": self.signer.login_token(name, level),
            "expires_at": self.clock() + self.signer.token_ttl,
        }

    def authenticate(self, token: object) -> tuple[str, str]:
        """The user and service level a login token names; a clear refusal if it is bad."""
        try:
            return self.signer.check_login_token(token)
        except CredentialError as exc:
            raise RequestError("bad_token", str(exc)) from None

    # --- placement and redirects ------------------------------------------------------
    async def place_broadcast(
        self, user: str, session: str, move_from: str | None = None, lost: str | None = None
    ) -> dict[str, str]:
        """Place a broadcast on the least-loaded live slave.

        ``move_from`` names the slave a broadcast is moving away from (drain, rebalance): it is
        never chosen. ``lost`` names the slave a broadcaster just lost its connection to: it
        is avoided if any other slave is live (it may be dead without its heartbeats having
        timed out yet), so failover does not wait for the dead-slave timeout. Either way the
        same session is moved rather than sent back to the slave the table names."""
        now = self.clock()
        slaves = await self._redis(self.tables.slaves())
        slave = choose_slave(slaves, now, self.config.dead_after, avoid=move_from or lost)
        if slave is None and lost and not move_from:
            slave = choose_slave(slaves, now, self.config.dead_after)
        if slave is None:
            PLACEMENTS.labels("no_slave").inc()
            raise RequestError("no_slave", "no live slave is available; try again shortly")
        status, entry = await self._redis(
            self.tables.claim_broadcast(
                user, session, slave, now, self.config.dead_after, self.config.pending_ttl, move=bool(move_from or lost)
            )
        )
        if status == "busy":
            PLACEMENTS.labels("refused").inc()
            raise RequestError("already_broadcasting", f"{user} is already broadcasting (one broadcast per user)")
        PLACEMENTS.labels(_placement_kind(status, move_from, lost)).inc()
        REDIRECTS.labels("broadcast").inc()
        ticket = self.signer.ticket(kind="broadcast", user=user, session=session, slave=entry["slave"])
        return {"slave": entry["addr"], "slave_id": entry["slave"], "ticket": ticket}

    async def locate_broadcast(
        self, viewer: str, level: str, target: str, speed_kbps: float | None = None, link: str | None = None
    ) -> dict[str, Any]:
        """Redirect a viewer to the broadcaster's slave, with a new viewer session and its
        cap: the viewer's share of its user's allowance, within its speed cap."""
        if link is not None and link not in self.config.speed_policy.link_caps:
            raise RequestError(
                "bad_link",
                f"unknown link type {link!r}; use one of " + ", ".join(sorted(self.config.speed_policy.link_caps)),
            )
        entry, slave, others = await self._redis(self.tables.locate(target, viewer))
        now = self.clock()
        if (
            not entry
            or not entry.get("confirmed")
            or not slave
            or effective_state(slave, now, self.config.dead_after) == DEAD
        ):
            raise RequestError("not_broadcasting", f"{target} is not broadcasting")
        speed_cap = self.config.speed_policy.cap_for(speed_kbps, link)
        allowance = self.config.allowances.get(level)
        session = secrets.token_urlsafe(9)
        caps = session_caps(allowance, {**{s: e.get("speed_cap") for s, e in others.items()}, session: speed_cap})
        REDIRECTS.labels("view").inc()
        ticket = self.signer.ticket(
            kind="view",
            user=viewer,
            target=target,
            slave=entry["slave"],
            session=session,
            cap_kbps=caps[session],
            speed_cap=speed_cap,
            allowance=allowance,
        )
        return {"slave": entry["addr"], "slave_id": entry["slave"], "ticket": ticket, "cap_kbps": caps[session]}

    # --- slave reports --------------------------------------------------------------
    async def slave_heartbeat(
        self, slave_id: str, addr: str, metrics: str, container: str, report: dict[str, Any]
    ) -> None:
        HEARTBEATS.inc()
        fields = {
            "addr": addr,
            "metrics": metrics,
            "container": container,
            "load": int(report.get("load", 0)),
            "broadcasts": int(report.get("broadcasts", 0)),
            "viewers": int(report.get("viewers", 0)),
            "state": report.get("state", LIVE),
            "heartbeat": self.clock(),
            "master": self.config.id,
        }
        if await self._redis(self.tables.record_heartbeat(slave_id, fields)) and slave_id in self.slave_links:
            # Redis had no record of this slave: it lost its data (or the slave is new).
            # Rebuild the tables from the slave's complete list now, not at the next refresh.
            TABLE_REBUILDS.inc()
            self.slave_links[slave_id].request_table()

    async def session_added(self, slave_id: str, addr: str, report: dict[str, Any]) -> None:
        user, session = str(report["user"]), str(report["session"])
        if report.get("kind") == "view":
            await self._redis(self.tables.add_viewer_session(user, session, viewer_entry(slave_id, report)))
            await self.share_allowance(user)
        else:
            previous = await self._redis(self.tables.confirm_broadcast(user, session, slave_id, addr, self.clock()))
            if previous and previous["slave"] != slave_id and previous["session"] == session:
                # The broadcaster came back on another slave (after losing its old one, which
                # may still be up): the old slave sends the viewers it kept after it.
                await self.send_to_slave(previous["slave"], T.BROADCAST_ELSEWHERE, {"user": user, "session": session})

    async def session_removed(self, slave_id: str, report: dict[str, Any]) -> None:
        user, session = str(report["user"]), str(report["session"])
        if report.get("kind") == "view":
            await self._redis(self.tables.remove_viewer_session(user, session))
            await self.share_allowance(user)
        else:
            await self._redis(self.tables.remove_broadcast(user, session, slave_id))

    async def session_table(self, slave_id: str, addr: str, table: dict[str, Any]) -> None:
        """A slave's complete session table: both tables are made to agree with it."""
        await self._redis(
            self.tables.replace_slave_sessions(
                slave_id, addr, list(table.get("broadcasts", [])), self.clock(), self.config.pending_ttl
            )
        )
        viewers = list(table.get("viewers", []))
        changed = await self._redis(self.tables.replace_slave_viewers(slave_id, viewers))
        for user in changed | {v["user"] for v in viewers}:
            await self.share_allowance(user)

    # --- per-user budgets (S7) --------------------------------------------------------
    async def share_allowance(self, user: str) -> None:
        """Divide the user's allowance among all its open viewer sessions and tell every
        session's slave its new cap (slaves ignore a cap that did not change)."""
        sessions = await self._redis(self.tables.viewer_sessions(user))
        if not sessions:
            return
        allowance = next((e.get("allowance") for e in sessions.values() if e.get("allowance")), None)
        caps = session_caps(allowance, {s: e.get("speed_cap") for s, e in sessions.items()})
        for session, cap in caps.items():
            await self.send_to_slave(sessions[session]["slave"], T.SET_CAP, {"session": session, "cap_kbps": cap})

    async def send_to_slave(self, slave_id: str, msg_type: int, fields: dict[str, Any]) -> None:
        """Send directly if the slave's link is on this master, else through Redis pub/sub
        to the master that holds it."""
        link = self.slave_links.get(slave_id)
        if link is not None:
            CAP_UPDATES.labels("direct").inc()
            link.send_json(msg_type, **fields)
        else:
            CAP_UPDATES.labels("pubsub").inc()
            await self._redis(self.tables.publish_command(slave_id, msg_type, fields))

    async def relay_commands(self) -> None:
        """Forward commands published by other masters to the slaves linked here. Runs for
        the master's life, resubscribing whenever Redis comes back."""
        while True:
            try:
                async with self.tables.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.tables.prefix + "commands")
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._relay(json.loads(message["data"]))
            except RedisError as exc:
                self.log.warn("command relay lost Redis ({err}); resubscribing", err=exc)
                await asyncio.sleep(0.5)

    def _relay(self, command: dict[str, Any]) -> None:
        link = self.slave_links.get(command.get("slave"))
        if link is not None:
            link.send_json(int(command["type"]), **command.get("fields", {}))

    # --- operators (C7, C8) -----------------------------------------------------------
    async def find_slave(self, ref: str):
        """A slave by id or by address."""
        for slave in await self._redis(self.tables.slaves()):
            if ref in (slave.id, slave.addr):
                return slave
        raise RequestError("unknown_slave", f"no slave {ref!r} in the cluster")

    async def drain(self, ref: str, deadline: float | None) -> dict[str, Any]:
        slave = await self.find_slave(ref)
        if effective_state(slave, self.clock(), self.config.dead_after) == DEAD:
            raise RequestError("dead_slave", f"slave {slave.id} is dead; there is nothing to drain")
        await self._redis(self.tables.set_slave_state(slave.id, DRAINING))
        await self.send_to_slave(slave.id, T.DRAIN, {"deadline": deadline})
        OPERATIONS.labels("drain").inc()
        return {"slave": slave.id, "addr": slave.addr, "state": DRAINING}

    async def undrain(self, ref: str) -> dict[str, Any]:
        slave = await self.find_slave(ref)
        await self._redis(self.tables.set_slave_state(slave.id, LIVE))
        await self.send_to_slave(slave.id, T.UNDRAIN, {})
        OPERATIONS.labels("undrain").inc()
        return {"slave": slave.id, "addr": slave.addr, "state": LIVE}

    async def rebalance(self) -> dict[str, Any]:
        """Move broadcasts off the most loaded live slaves, each with the same
        make-before-break move as a drain; the placement picks the least-loaded target."""
        now = self.clock()
        loads = {
            s.id: s.load
            for s in await self._redis(self.tables.slaves())
            if effective_state(s, now, self.config.dead_after) == LIVE
        }
        viewers = await self._viewer_counts()
        broadcasts = {
            b["user"]: (b["slave"], viewers.get(b["user"], 0))
            for b in await self._redis(self.tables.broadcasts())
            if b.get("confirmed")
        }
        moves = plan_rebalance(loads, broadcasts)
        for user, source, _ in moves:
            await self.send_to_slave(source, T.MIGRATE_BROADCAST, {"user": user})
        OPERATIONS.labels("rebalance").inc()
        return {"moves": [{"user": user, "from": source, "to": target} for user, source, target in moves]}

    async def _viewer_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sessions in (await self._redis(self.tables.all_viewer_sessions())).values():
            for entry in sessions.values():
                counts[entry["target"]] = counts.get(entry["target"], 0) + 1
        return counts

    # --- housekeeping (every second) -------------------------------------------------
    async def sweep(self) -> None:
        """Mark slaves whose heartbeats stopped as dead, clear their sessions, publish gauges."""
        now = self.clock()
        for link in list(self.slave_links.values()):
            if now - link.last_heard > self.config.dead_after:  # a link that died silently
                link.transport.abortConnection()
        await self._redis(self.tables.record_master(self.config.id, self._master_info(now)))
        counts = {LIVE: 0, DRAINING: 0, "drained": 0, DEAD: 0}
        for slave in await self._redis(self.tables.slaves()):
            state = effective_state(slave, now, self.config.dead_after)
            counts[state] = counts.get(state, 0) + 1
            SLAVE_HEARTBEAT_AGE.labels(slave.id).set(now - slave.heartbeat)
            if state == DEAD and slave.state != DEAD:
                users, viewers = await self._redis(self.tables.mark_dead(slave.id))
                self.log.warn(
                    "slave {slave} missed heartbeats; marked dead, cleared {users}", slave=slave.id, users=users
                )
                for viewer in viewers:
                    await self.share_allowance(viewer)
            if now - slave.heartbeat > self.config.forget_after:
                await self._redis(self.tables.forget_slave(slave.id))
                SLAVE_HEARTBEAT_AGE.remove(slave.id)
        for state, count in counts.items():
            SLAVES.labels(state).set(count)

    def _master_info(self, now: float) -> dict[str, Any]:
        c = self.config
        return {
            "id": c.id,
            "addr": c.client_addr,
            "slave_addr": c.slave_addr,
            "metrics": c.metrics_addr,
            "heartbeat": now,
        }

    # --- status ---------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        now = self.clock()
        masters = await self._redis(self.tables.masters())
        slaves = await self._redis(self.tables.slaves())
        broadcasts = await self._redis(self.tables.broadcasts())
        viewers = await self._viewer_counts()
        return {
            "masters": [
                {
                    "id": m["id"],
                    "addr": m["addr"],
                    "state": LIVE if now - m["heartbeat"] <= self.config.dead_after else DEAD,
                    "heartbeat_age": round(now - m["heartbeat"], 2),
                }
                for m in masters
            ],
            "slaves": [
                {
                    "id": s.id,
                    "addr": s.addr,
                    "state": effective_state(s, now, self.config.dead_after),
                    "load": s.load,
                    "broadcasts": s.broadcasts,
                    "viewers": s.viewers,
                    "heartbeat_age": round(now - s.heartbeat, 2),
                    "metrics": s.metrics,
                    "container": s.container,
                }
                for s in slaves
            ],
            "broadcasts": sorted(
                (
                    {
                        "user": b["user"],
                        "slave": b["slave"],
                        "addr": b["addr"],
                        "confirmed": b.get("confirmed", False),
                        "viewers": viewers.get(b["user"], 0),
                        "age": round(now - b["updated"], 2),
                    }
                    for b in broadcasts
                ),
                key=lambda b: b["user"],
            ),
        }

    async def metrics_targets(self) -> list[dict[str, Any]]:
        """Prometheus HTTP service discovery: every live node's metrics address."""
        now = self.clock()
        slaves = [
            s.metrics
            for s in await self._redis(self.tables.slaves())
            if s.metrics and effective_state(s, now, self.config.dead_after) != DEAD
        ]
        masters = [m["metrics"] for m in await self._redis(self.tables.masters()) if m.get("metrics")]
        return [{"targets": slaves, "labels": {"role": "slave"}}, {"targets": masters, "labels": {"role": "master"}}]

    @staticmethod
    async def _redis(coro):
        """Await a Redis coroutine from Deferred-driven code; Redis trouble is a clear 'try again'."""
        try:
            return await as_deferred(coro)
        except RedisError:
            raise RequestError("unavailable", "the cluster state store is unavailable; try again shortly") from None


def _placement_kind(status: str, move_from: str | None, lost: str | None) -> str:
    if move_from:
        return "moved"
    if lost:
        return "failover"
    return "reconnect" if status == "existing" else "new"
