"""The master's parts on the in-memory store, without sockets: placement, redirects, the
repair of lost commands, and the relay between masters."""

import asyncio
import time

import pytest
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock

from common.errors import ErrorCode, RequestError
from common.messages.cluster import Drain, Heartbeat, SetCap, SlaveState, Undrain
from common.tokens import BroadcastTicket, LoginClaims, ViewTicket
from master.node import Master, MasterConfig
from master.storage.db.tables import DatabaseTables
from master.storage.memory_store import MemoryState, MemoryStore
from tests.services import SIGNER, FakeLink

LIVE, DRAINING, DRAINED = SlaveState.LIVE, SlaveState.DRAINING, SlaveState.DRAINED


def clock_at(now: float) -> Clock:
    """A hand-driven reactor clock that reads ``now``."""
    clock = Clock()
    clock.advance(now)
    return clock


def make_master(state=None, name="m1", reactor=None, **settings):
    """A master on the in-memory store (``state``), its reactor at 1000.0 unless given."""
    config = MasterConfig(name, f"{name}:5101", f"{name}:5201", **settings)
    store = MemoryStore(state or MemoryState())
    return Master(config, store, DatabaseTables.on(None), SIGNER, reactor or clock_at(1000.0))


def twisted(coro):
    """Await Deferred-driven master code from asyncio code, as the asyncio reactor does."""
    return ensureDeferred(coro).asFuture(asyncio.get_running_loop())


def run(coro_factory):
    """Run a Deferred-driven scenario on an asyncio loop."""

    async def main():
        return await twisted(coro_factory())

    return asyncio.run(main())


def beat(state=LIVE, exiting=False):
    return Heartbeat(load=0, broadcasts=0, viewers=0, state=state, exiting=exiting)


def test_a_broadcast_is_placed_on_the_least_loaded_slave_and_refused_twice():
    master = make_master()
    links = [FakeLink("s1"), FakeLink("s2")]

    async def scenario():
        await master.registry.heartbeat(links[0], Heartbeat(5, 1, 4, LIVE))
        await master.registry.heartbeat(links[1], Heartbeat(1, 1, 0, LIVE))
        redirect = await master.redirects.place_broadcast("alice", "session-alice")
        ticket = SIGNER.check(redirect.ticket, BroadcastTicket, time.time())
        assert (redirect.slave_id, redirect.slave, ticket.slave) == ("s2", "s2.example:5301", "s2")
        await master.store.confirm_broadcast("alice", "session-alice", "s2", redirect.slave, 1000.0)
        with pytest.raises(RequestError) as refused:
            await master.redirects.place_broadcast("alice", "session-other")
        assert refused.value.code == ErrorCode.ALREADY_BROADCASTING

    run(scenario)


def test_a_viewer_is_sent_to_the_broadcasters_slave_with_its_share_of_the_allowance():
    master = make_master()
    link = FakeLink("s1")

    async def scenario():
        await master.registry.heartbeat(link, beat())
        with pytest.raises(RequestError) as nobody:
            await master.redirects.find_broadcast("alice", "bob")
        assert nobody.value.code == ErrorCode.NOT_BROADCASTING
        await master.store.confirm_broadcast("alice", "session-alice", "s1", link.hello.addr, 1000.0)
        entry, slave, others = await master.redirects.find_broadcast("alice", "bob")
        redirect = master.redirects.view_redirect(LoginClaims("bob"), entry, slave, others, link="dsl")
        ticket = SIGNER.check(redirect.ticket, ViewTicket, time.time())
        assert (ticket.target, ticket.slave, ticket.cap_kbps, redirect.cap_kbps) == ("alice", "s1", 80, 80)

    run(scenario)


def test_a_lost_drain_is_sent_again_by_the_next_heartbeat():
    master = make_master()
    link = FakeLink("s1")

    async def scenario():
        await master.registry.heartbeat(link, beat())
        await master.operators.drain("s1", None)  # s1's link is on another master: published, and lost
        assert link.sent[-1:] != [Drain()]
        await master.registry.heartbeat(link, beat(LIVE))
        assert link.sent[-1] == Drain(), "the heartbeat still said live, so the drain is sent again"
        link.sent.clear()
        await master.registry.heartbeat(link, beat(DRAINING))
        assert Drain() not in link.sent

    run(scenario)


def test_a_lost_undrain_is_sent_again_but_a_sigterm_drain_is_left_alone():
    master = make_master()
    link = FakeLink("s1")

    async def scenario():
        await master.registry.heartbeat(link, beat())
        await master.store.set_wanted_state("s1", LIVE)
        await master.registry.heartbeat(link, beat(DRAINED))
        assert link.sent[-1] == Undrain()
        link.sent.clear()
        await master.registry.heartbeat(link, beat(DRAINING, exiting=True))
        assert Undrain() not in link.sent

    run(scenario)


def test_a_heartbeat_the_store_did_not_expect_asks_for_the_whole_table():
    master = make_master()
    link = FakeLink("s1")

    async def scenario():
        await master.registry.heartbeat(link, beat())
        assert [type(m).__name__ for m in link.sent] == ["TableRequest"]
        await master.registry.heartbeat(link, beat())
        assert len(link.sent) == 1

    run(scenario)


def test_the_relay_drops_a_malformed_command_and_delivers_the_next():
    state = MemoryState()
    here, there = make_master(state, "m1"), make_master(state, "m2")
    link = FakeLink("s1")
    here.links.joined(link)

    async def scenario():
        relay = asyncio.ensure_future(here.links.relay_commands())
        await asyncio.sleep(0)
        for queue in state.feeds:
            queue.put_nowait(("s1", SetCap.TYPE, b'{"session": 12}'))  # malformed
            queue.put_nowait(("s1", 250, b"{}"))  # unknown type
        await twisted(there.links.send("s1", SetCap("view-session", 80.0)))
        for _ in range(50):
            if link.sent:
                break
            await asyncio.sleep(0.01)
        relay.cancel()
        assert link.sent == [SetCap("view-session", 80.0)]

    asyncio.run(scenario())


def test_the_relay_subscribes_again_when_the_store_comes_back():
    state = MemoryState(available=False)
    here, there = make_master(state, "m1"), make_master(state, "m2")
    link = FakeLink("s1")
    here.links.joined(link)

    async def scenario():
        relay = asyncio.ensure_future(here.links.relay_commands())
        await asyncio.sleep(0.1)
        state.available = True
        for _ in range(100):
            if state.feeds:
                break
            here.reactor.advance(0.5)  # the relay waits on the reactor before it subscribes again
            await asyncio.sleep(0.05)
        await twisted(there.links.send("s1", SetCap("view-session", None)))
        await asyncio.sleep(0.05)
        relay.cancel()
        assert link.sent == [SetCap("view-session", None)]

    asyncio.run(scenario())


def test_floods_are_refused_past_their_burst_and_viewer_sessions_are_bounded():
    from master.policy.limits import LIMITS, MAX_VIEWER_SESSIONS, Flood
    from master.policy.records import ViewerEntry

    master = make_master()
    link = FakeLink("s1")

    async def scenario():
        for _ in range(LIMITS[Flood.VIEW_USER].burst):
            await master.floods.check(Flood.VIEW_USER, "bob")
        with pytest.raises(RequestError) as flood:
            await master.floods.check(Flood.VIEW_USER, "bob")
        assert flood.value.code == ErrorCode.RATE_LIMITED and "too many requests to watch" in flood.value.message
        await master.floods.check(Flood.VIEW_USER, "carol")  # limits are per user
        await master.registry.heartbeat(link, beat())
        await master.store.confirm_broadcast("alice", "session-alice", "s1", link.hello.addr, 1000.0)
        entry, slave, _ = await master.redirects.find_broadcast("alice", "bob")
        others = [ViewerEntry("bob", f"session-{i:04d}", "alice", "s1") for i in range(MAX_VIEWER_SESSIONS)]
        with pytest.raises(RequestError) as many:
            master.redirects.view_redirect(LoginClaims("bob"), entry, slave, others)
        assert many.value.code == ErrorCode.TOO_MANY_SESSIONS

    run(scenario)
