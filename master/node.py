"""One master node: its configuration and its parts, wired together. This is the only
file that knows every part; read it as the wiring diagram.

Two stores hold the same Redis tables over two connection pools: ``store`` for client
requests, and ``control`` for the control plane (the slave links, allowances, redirects
and the registry), so no flood of client requests can hold up heartbeats, sweeps or
placements (by default both are one store). PostgreSQL is reached through the tables of
``storage/db`` (``tables``: the real ones, or their in-memory fakes in tests). Time is the
reactor's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet.interfaces import IReactorTime

from common.tokens import NodeKeys
from master.policy.budget import DEFAULT_ALLOWANCES, SpeedPolicy, parse_levels
from master.policy.records import MasterRecord
from master.policy.relay_tree import TreeLimits
from master.ports.client_port import ClientServices
from master.ports.slave_port import SlaveServices
from master.services.accounts import Accounts
from master.services.admission import Admission
from master.services.allowances import Allowances
from master.services.audience import Audience
from master.services.chat import Chat
from master.services.events import Events
from master.services.floods import Floods
from master.services.operators import Operators
from master.services.presence import UserPresence
from master.services.redirects import Redirects
from master.services.registry import Registry
from master.services.relays import Relays
from master.services.sessions import UserSessions
from master.services.slave_links import SlaveLinks
from master.services.social import Social
from master.services.status import ClusterStatus
from master.storage.db.tables import DatabaseTables
from master.storage.store import Store


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
        tables: DatabaseTables,
        signer: NodeKeys,
        reactor: IReactorTime,
        control: Store | None = None,
    ):
        c = config
        clock = reactor.seconds
        self.config, self.store, self.control, self.reactor = config, store, control or store, reactor
        me = MasterRecord(c.id, c.client_addr, c.slave_addr, c.metrics_addr, 0.0)

        # PostgreSQL
        t = tables
        self.users, self.relations, self.preferences = t.users, t.relations, t.preferences
        self.admissions, self.messages, self.rooms = t.admissions, t.messages, t.rooms

        # the control plane, on its own pool
        self.links = SlaveLinks(self.control, signer, c.id, reactor)
        self.allowances = Allowances(self.control, self.links)
        self.relays = Relays(store, clock, TreeLimits(c.relay_after, c.relay_fanout, c.relay_depth), c.dead_after)
        self.redirects = Redirects(
            self.control,
            signer,
            self.relays,
            clock,
            dead_after=c.dead_after,
            pending_ttl=c.pending_ttl,
            speed_policy=c.speed_policy,
            allowances=c.allowances,
        )

        # users: events to their sessions, presence, accounts, limits
        self.events = Events(store, reactor)
        self.presence = UserPresence(store, self.relations, self.events, clock, c.id, c.dead_after)
        self.accounts = Accounts(self.users, signer, self.events, clock)
        self.floods = Floods(store, self.accounts, reactor)
        self.registry = Registry(
            self.control,
            self.links,
            self.allowances,
            self.presence,
            clock,
            me,
            dead_after=c.dead_after,
            pending_ttl=c.pending_ttl,
            forget_after=c.forget_after,
        )

        # what users do
        self.admission = Admission(
            self.admissions, self.relations, self.floods, self.redirects, self.relays, self.events, clock, c.request_ttl
        )
        self.audience = Audience(store, self.admissions, self.links, clock, c.throw_ban)
        self.social = Social(
            store, self.relations, self.preferences, self.rooms, self.presence, self.events, self.admission
        )
        self.chat = Chat(
            store,
            self.messages,
            self.rooms,
            self.floods,
            self.events,
            clock,
            message_rate=c.message_rate,
            message_burst=c.message_burst,
        )
        self.sessions = UserSessions(self.events, self.presence)
        self.operators = Operators(store, self.links, signer, clock, c.dead_after)
        self.status = ClusterStatus(store, self.admission, clock, c.dead_after)

        # what a session that attaches is sent: open requests and invitations, then messages
        self.sessions.on_attach.append(self.admission.catch_up)
        self.events.catch_ups.append(self.chat.catch_up)

        # what the ports dispatch to
        self.client_services = ClientServices(
            accounts=self.accounts,
            floods=self.floods,
            redirects=self.redirects,
            sessions=self.sessions,
            admission=self.admission,
            audience=self.audience,
            social=self.social,
            chat=self.chat,
            status=self.status,
            operators=self.operators,
        )
        self.slave_services = SlaveServices(links=self.links, registry=self.registry, relays=self.relays)
