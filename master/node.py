"""One master node: its configuration and its parts, wired together.

Protocol classes (``client_port``, ``slave_port``) parse messages and call the parts:
``accounts`` (register, login, tokens), ``redirects`` (placement), ``registry`` (slave
reports and the sweep), ``allowances`` (budgets), ``links`` (slave links and the relay
between masters), ``relays`` (relay chains), ``operators``, ``sessions`` (users' attached sessions, pushed events and
presence), ``admission`` (who may watch whom), ``social`` (friends, live broadcasts,
settings) and ``chat`` (messages and rooms). Everything that touches Redis goes through
``store``, except the control plane (``registry``, ``redirects``, ``links``, ``allowances``),
which uses ``control``: the same tables over a connection pool of its own, so no flood of
client requests can hold up heartbeats, sweeps or placements (by default both are one
store). PostgreSQL is reached through ``users``, ``relations``, ``preferences``,
``admissions``, ``messages`` and ``rooms`` (``master/storage/db/``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from common.messages.accounts import Status
from common.messages.cluster import SlaveState
from common.tokens import NodeKeys
from master.policy.budget import DEFAULT_ALLOWANCES, SpeedPolicy, parse_levels
from master.policy.placement import effective_state
from master.policy.records import MasterRecord
from master.policy.status import for_user, project
from master.services.accounts import Accounts
from master.services.admission import Admission
from master.services.allowances import Allowances
from master.services.chat import Chat
from master.services.floods import Floods
from master.services.operators import Operators
from master.services.redirects import Redirects
from master.services.registry import Registry
from master.services.relays import Relays
from master.services.events import Events
from master.services.presence import UserPresence
from master.services.sessions import UserSessions
from master.services.slave_links import SlaveLinks
from master.services.social import Social
from master.storage.db.admissions import Admissions
from master.storage.db.messages import Messages
from master.storage.db.pool import Database
from master.storage.db.preferences import Preferences
from master.storage.db.relations import Relations
from master.storage.db.rooms import Rooms
from master.storage.db.users import UserStore
from master.storage.store import Store, stored


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
    request_ttl: float = 60.0
    throw_ban: float = 300.0
    message_rate: float = 5.0
    message_burst: int = 20
    relay_after: int = 0  # viewers of a broadcast per slave before relays take new ones (0: never)
    relay_fanout: int = 4
    relay_depth: int = 3


class Master:
    def __init__(
        self,
        config: MasterConfig,
        store: Store,
        db: Database | None,
        signer: NodeKeys,
        reactor,
        clock: Callable[[], float] = time.time,
        control: Store | None = None,
    ):
        self.config = config
        self.store = store
        self.control = control or store
        self.signer = signer
        self.clock = clock
        self.users = UserStore(db)
        self.relations = Relations(db)
        self.preferences = Preferences(db)
        self.admissions = Admissions(db)
        self.messages = Messages(db)
        self.rooms = Rooms(db)
        self.links = SlaveLinks(self.control, config.id, reactor)
        self.accounts = Accounts(self.users, signer, clock)
        self.allowances = Allowances(self.control, self.links)
        self.redirects = Redirects(self)
        self.relays = Relays(self)
        self.floods = Floods(self, reactor)
        self.registry = Registry(self)
        self.operators = Operators(self)
        self.events = Events(store, reactor)
        self.presence = UserPresence(store, self.relations, self.events, clock, config.id, config.dead_after)
        self.sessions = UserSessions(self.events, self.presence)
        self.admission = Admission(self)
        self.social = Social(self)
        self.chat = Chat(self)
        self.sessions.on_attach.append(self.admission.catch_up)
        self.events.catch_ups.append(self.chat.catch_up)

    def record(self, now: float) -> MasterRecord:
        c = self.config
        return MasterRecord(c.id, c.client_addr, c.slave_addr, c.metrics_addr, now)

    async def status(self, user: str | None = None) -> Status:
        """Operators' status (``user`` None), or what ``user`` may see of it."""
        store = self.store
        masters = await stored(store.masters())
        slaves = await stored(store.slaves())
        broadcasts = await stored(store.broadcasts())
        viewers = await stored(store.all_viewer_sessions())
        everything = project(masters, slaves, broadcasts, viewers, self.clock(), self.config.dead_after)
        if user is None:
            return everything
        live = [b for b in broadcasts if b.confirmed]
        return for_user(everything, await self.admission.watchable(user, live))

    async def metrics_targets(self) -> list[dict]:
        """Prometheus HTTP service discovery: every live node's metrics address."""
        now = self.clock()
        slaves = [
            s.metrics
            for s in await stored(self.store.slaves())
            if s.metrics and effective_state(s, now, self.config.dead_after) != SlaveState.DEAD
        ]
        masters = [m.metrics for m in await stored(self.store.masters()) if m.metrics]
        return [{"targets": slaves, "labels": {"role": "slave"}}, {"targets": masters, "labels": {"role": "master"}}]
