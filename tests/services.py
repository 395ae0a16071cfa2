"""The master's services in process, for tests that run in milliseconds: one or more
masters wired by ``master/node.py`` itself, sharing one in-memory store
(``MemoryState``), one set of in-memory tables (``MemoryDatabase``) and one hand-driven
reactor clock, as real masters share Redis, PostgreSQL and time. Each master delivers
its events through the real event feed (``Events.deliver_events``), so a push reaches
the attached sessions of every master.

``Cluster.run`` runs one service call to its end and then lets the feeds deliver what it
pushed (``begin`` and ``finish`` split it, for a call that waits); ``Cluster.connect``
attaches a ``FakeSession`` as the client port does, which records what it is sent.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Coroutine, TypeVar

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.task import Clock

from common.errors import ErrorCode, RequestError
from common.messages.accounts import Redirect, ViewRequest
from common.messages.admission import ViewPending
from common.messages.cluster import Heartbeat, SlaveHello, SlaveState
from common.messages.schema import Control
from common.messages.social import Attach
from common.tokens import LoginClaims, NodeKeys
from master.node import Master, MasterConfig
from master.policy.records import ViewerEntry
from master.storage.db.memory_admissions import MemoryAdmissions
from master.storage.db.memory_database import MemoryDatabase, UserRow
from master.storage.db.memory_messages import MemoryMessages
from master.storage.db.memory_preferences import MemoryPreferences
from master.storage.db.memory_relations import MemoryRelations
from master.storage.db.memory_rooms import MemoryRooms
from master.storage.db.memory_users import MemoryUserStore, cheap_hasher
from master.storage.db.tables import DatabaseTables
from master.storage.memory_store import MemoryState, MemoryStore

SIGNER = NodeKeys.for_master("s3cret")
START = 1_000_000.0  # the clock's reading when a cluster starts
USERS = ("alice", "bob", "carol", "dave", "mallory")
SETTLE_STEPS = 1000  # loop turns the event feeds get to deliver, at most
T = TypeVar("T")


def memory_tables(db: MemoryDatabase) -> DatabaseTables:
    """The in-memory fakes of every table, on one ``MemoryDatabase``."""
    return DatabaseTables(
        MemoryUserStore(db, cheap_hasher()),
        MemoryRelations(db),
        MemoryPreferences(db),
        MemoryAdmissions(db),
        MemoryMessages(db),
        MemoryRooms(db),
    )


class FakeSession:
    """An attached client session (``events.AttachedSession``): ``received`` is everything
    it was sent, in order; ``rejected`` the reason it was ended, if it was; ``drain``,
    when set, what its ``drained`` waits for (a test fires it: the client read on)."""

    def __init__(self, user: str, attach: Attach, token_epoch: int = 0):
        self.user = user
        self.attached: Attach | None = attach
        self.token_epoch = token_epoch
        self.last_message = 0
        self.sent_messages: set[int] = set()
        self.catching_up: list | None = None
        self.received: list[Control] = []
        self.rejected: tuple[ErrorCode, str] | None = None
        self.drain: Deferred | None = None

    def send(self, message: Control) -> None:
        self.received.append(message)

    def drained(self) -> Deferred:
        return self.drain or succeed(None)

    def reject(self, code: ErrorCode, message: str) -> None:
        self.rejected = (code, message)

    def of(self, kind: type[T]) -> list[T]:
        """What it was sent of one kind, in order."""
        return [m for m in self.received if isinstance(m, kind)]


class FakeLink:
    """A slave's link to a master: what it was sent."""

    def __init__(self, slave_id: str):
        self.slave_id = slave_id
        self.hello = SlaveHello(slave_id, f"{slave_id}.example:5301", "proof", f"{slave_id}.example:9301")
        self.last_heard = 0.0
        self.sent: list[Any] = []

    def send(self, message: Control) -> None:
        self.sent.append(message)

    def abort(self) -> None:
        self.sent.append("aborted")


class Cluster:
    """Masters named ``masters`` (each ``MasterConfig`` takes ``settings``) on one store,
    one database holding ``users`` and one clock; use it as a context manager."""

    def __init__(self, masters: tuple[str, ...] = ("m1",), users: tuple[str, ...] = USERS, **settings: Any):
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.clock.advance(START)
        self.state, self.db = MemoryState(), MemoryDatabase()
        for name in users:
            self.db.users[name] = UserRow("not a hash: these users never log in")
        self.masters = {
            name: Master(
                MasterConfig(name, f"{name}:5101", f"{name}:5201", **settings),
                MemoryStore(self.state),
                memory_tables(self.db),
                SIGNER,
                self.clock,
            )
            for name in masters
        }
        self.master = self.masters[masters[0]]
        self.links: dict[str, FakeLink] = {}
        self._feeds = [self.loop.create_task(m.events.deliver_events()) for m in self.masters.values()]
        self.loop.run_until_complete(self._subscribed())
        self.beat()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for feed in self._feeds:
            feed.cancel()
        self.loop.run_until_complete(asyncio.gather(*self._feeds, return_exceptions=True))
        self.loop.close()

    async def _subscribed(self) -> None:
        for _ in range(SETTLE_STEPS):
            if len(self.state.event_feeds) == len(self.masters):
                return
            await asyncio.sleep(0)
        raise AssertionError("the masters' event feeds did not subscribe")

    async def _delivered(self) -> None:
        for _ in range(SETTLE_STEPS):
            if not any(queue.qsize() for queue in self.state.event_feeds):
                return
            await asyncio.sleep(0)
        raise AssertionError("the event feeds did not deliver what was pushed")

    # --- running service calls ------------------------------------------------------
    def run(self, call: Coroutine[Any, Any, T]) -> T:
        """Run a service call to its end, then deliver the events it pushed."""
        return self.finish(self.begin(call))

    def begin(self, call: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Start a service call on the loop (the store's calls need a running one); it
        runs while the loop does: in ``finish``, ``until`` or another call's ``run``."""

        async def on_the_loop() -> T:
            return await ensureDeferred(call).asFuture(self.loop)

        return self.loop.create_task(on_the_loop())

    def until(self, condition: Callable[[], bool]) -> None:
        """Run the loop until ``condition`` holds (within ``SETTLE_STEPS`` turns)."""

        async def turns() -> None:
            for _ in range(SETTLE_STEPS):
                if condition():
                    return
                await asyncio.sleep(0)
            raise AssertionError("the condition did not come to hold")

        self.loop.run_until_complete(turns())

    def finish(self, call: asyncio.Future[T]) -> T:
        """Wait for a call that was begun to end, then deliver the events pushed meanwhile."""

        async def settled() -> T:
            try:
                return await call
            finally:
                await self._delivered()

        return self.loop.run_until_complete(settled())

    def refused(self, call: Coroutine[Any, Any, Any]) -> RequestError:
        """The refusal a service call ends with (it must end with one)."""
        try:
            self.run(call)
        except RequestError as exc:
            return exc
        raise AssertionError("the call was not refused")

    def on(self, master: str | None) -> Master:
        """The master named so (None: the first)."""
        return self.masters[master] if master else self.master

    def beat(self) -> None:
        """What a running cluster does every second: the slaves' heartbeats reach the
        first master, and every master sweeps (recording its own heartbeat)."""
        for link in self.links.values():
            link.last_heard = self.clock.seconds()
            self.run(self.master.registry.heartbeat(link, Heartbeat(0, 0, 0, SlaveState.LIVE)))
        for master in self.masters.values():
            self.run(master.registry.sweep())

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass and the cluster ``beat``: broadcasts and masters stay live."""
        self.clock.advance(seconds)
        self.beat()

    # --- sessions, as the client port attaches and closes them ----------------------
    def connect(self, user: str, master: str | None = None, token_epoch: int = 0, **attach: Any) -> FakeSession:
        """A session of ``user`` attached to ``master``; ``attach`` holds ``Attach``'s
        fields ``since``, ``messages`` and ``presence``."""
        session = FakeSession(user, Attach("token", **attach), token_epoch)
        self.finish(self.attach(session, master))
        return session

    def attach(self, session: FakeSession, master: str | None = None) -> asyncio.Future[None]:
        """Begin attaching ``session`` to ``master``; ``finish`` waits for it."""
        sessions = self.on(master).sessions
        sessions.check_room_for(session.user)
        return self.begin(sessions.attach(session, session.user))

    def disconnect(self, session: FakeSession, master: str | None = None) -> None:
        session.attached = None
        self.run(self.on(master).sessions.detach(session, session.user))

    # --- broadcasts and viewers, as the slaves report them --------------------------
    def broadcast(self, user: str, slave: str = "s1") -> None:
        """``user`` broadcasts, confirmed on ``slave`` (live, and linked to the first master)."""
        if slave not in self.links:
            self.links[slave] = FakeLink(slave)
            self.master.links.joined(self.links[slave])
            self.beat()
        addr = self.links[slave].hello.addr
        self.run(self.master.store.confirm_broadcast(user, f"session-{user}", slave, addr, self.clock.seconds()))

    def view(self, viewer: str, target: str, master: str | None = None) -> Redirect | ViewPending:
        """A request of ``viewer`` to watch ``target``; its redirect or its wait."""
        return self.run(self.on(master).admission.view(LoginClaims(viewer), ViewRequest("token", target)))

    def watching(self, viewer: str, target: str, session: str, slave: str = "s1") -> None:
        """The slave reports ``viewer`` watching ``target`` in viewer session ``session``."""
        self.run(self.master.store.add_viewer_session(ViewerEntry(viewer, session, target, slave)))
