"""One test suite for both stores: RedisStore on the real Redis, and the in-memory fake.
The fake must behave exactly like Redis (buildbot keeps its fakes honest the same way),
including the decisions of the Lua claim script."""

import asyncio
import dataclasses
import json
import uuid

import pytest
import redis.asyncio as aioredis
from hypothesis import example, HealthCheck, given, settings, strategies as st

from cli.services import free_port
from common.messages.cluster import BroadcastReport, SetCap, SlaveState, ViewerReport
from common.ratelimit import gcra
from master.policy.claim import Claim, decide_claim
from master.policy.records import BroadcastEntry, MasterRecord, SlaveRecord, ViewerEntry
from master.storage.memory_store import MemoryStore
from master.storage.redis_store import RedisStore
from master.storage.store import StoreUnavailable
from tests.conftest import REDIS_URL, clear_redis

NOW = 1_000_000.0
LIVE, DRAINING, DRAINED, DEAD = SlaveState.LIVE, SlaveState.DRAINING, SlaveState.DRAINED, SlaveState.DEAD


def slave(id="s1", state=LIVE, age=0.5, load=0):
    return SlaveRecord(id, f"{id}:1", load, NOW - age, state, metrics=f"{id}:9", master="m1")


@pytest.fixture(params=["memory", "redis"])
def run(request):
    """run(scenario): await scenario(store) on a fresh store of the parameter's kind."""

    def runner(scenario):
        async def main():
            if request.param == "memory":
                return await scenario(MemoryStore())
            prefix = f"fcstore-{uuid.uuid4().hex[:8]}:"
            client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
            try:
                return await scenario(RedisStore(client, prefix))
            finally:
                await client.aclose()
                clear_redis(prefix)

        return asyncio.run(main())

    return runner


def test_heartbeats_register_slaves_and_say_when_the_tables_may_lack_them(run):
    async def scenario(store):
        assert await store.record_heartbeat(slave("s1", load=3)) == (True, LIVE)
        assert await store.record_heartbeat(slave("s1", load=4)) == (False, LIVE)
        (record,) = await store.slaves()
        assert (record.id, record.addr, record.load, record.state, record.metrics) == ("s1", "s1:1", 4, LIVE, "s1:9")
        await store.record_heartbeat(dataclasses.replace(slave("s1"), relays=(("alice", "s2"),)))
        assert (await store.slaves())[0].relays == (("alice", "s2"),)
        await store.mark_dead("s1")
        assert (await store.slaves())[0].state == DEAD
        assert (await store.record_heartbeat(slave("s1")))[0] is True
        await store.forget_slave("s1")
        assert await store.slaves() == []

    run(scenario)


def test_an_operators_wanted_state_outlives_heartbeats(run):
    async def scenario(store):
        await store.record_heartbeat(slave("s1"))
        await store.set_wanted_state("s1", DRAINING)
        assert await store.record_heartbeat(slave("s1", state=LIVE)) == (False, DRAINING)
        record = (await store.slaves())[0]
        assert (record.state, record.wanted) == (LIVE, DRAINING)
        await store.set_wanted_state("s1", LIVE)
        assert (await store.record_heartbeat(slave("s1", state=DRAINED)))[1] == LIVE

    run(scenario)


def test_claims_follow_the_one_broadcast_rule(run):
    async def scenario(store):
        await store.record_heartbeat(slave("s1"))
        await store.record_heartbeat(slave("s2"))
        claim, entry = await store.claim_broadcast("alice", "sess-one", slave("s1"), NOW, 3, 10, False)
        assert claim == Claim.CLAIMED and (entry.slave, entry.addr, entry.confirmed) == ("s1", "s1:1", False)
        assert {s.id: s.placed for s in await store.slaves()} == {"s1": 1, "s2": 0}
        assert (await store.claim_broadcast("alice", "sess-one", slave("s2"), NOW, 3, 10, False))[0] == Claim.EXISTING
        assert (await store.claim_broadcast("alice", "sess-two", slave("s2"), NOW, 3, 10, False))[0] == Claim.BUSY
        claim, entry = await store.claim_broadcast("alice", "sess-one", slave("s2"), NOW, 3, 10, True)
        assert claim == Claim.CLAIMED and entry.slave == "s2"
        await store.mark_dead("s2")
        assert (await store.claim_broadcast("alice", "sess-two", slave("s1"), NOW, 3, 10, False))[0] == Claim.CLAIMED
        await store.record_heartbeat(slave("s1"))
        assert {s.id: s.placed for s in await store.slaves()}["s1"] == 0, "a heartbeat resets the placements"

    run(scenario)


def test_confirm_and_remove(run):
    async def scenario(store):
        assert await store.confirm_broadcast("alice", "sess-one", "s1", "s1:1", NOW) is None
        previous = await store.confirm_broadcast("alice", "sess-one", "s2", "s2:1", NOW + 1)
        assert previous == BroadcastEntry("alice", "sess-one", "s1", "s1:1", NOW, True)
        assert not await store.remove_broadcast("alice", "sess-one", "s1"), "a late report of the old slave"
        assert not await store.remove_broadcast("alice", "sess-two", "s2")
        assert await store.remove_broadcast("alice", "sess-one", "s2")
        assert await store.broadcasts() == []

    run(scenario)


def test_a_slaves_complete_table_replaces_its_entries(run):
    async def scenario(store):
        await store.record_heartbeat(slave("s1"))
        await store.confirm_broadcast("gone", "sess-gone", "s1", "s1:1", NOW - 50)
        await store.claim_broadcast("young", "sess-young", slave("s1"), NOW - 1, 3, 10, False)
        await store.confirm_broadcast("moved", "sess-moved", "s2", "s2:1", NOW)
        reports = [BroadcastReport("kept", "sess-kept"), BroadcastReport("moved", "sess-moved")]
        await store.replace_slave_sessions("s1", "s1:1", reports, NOW, 10)
        table = {e.user: (e.slave, e.confirmed) for e in await store.broadcasts()}
        assert table == {"young": ("s1", False), "kept": ("s1", True), "moved": ("s2", True)}

    run(scenario)


def test_the_viewer_session_table(run):
    async def scenario(store):
        await store.confirm_broadcast("alice", "sess-alice", "s1", "s1:1", NOW)
        await store.record_heartbeat(slave("s1"))
        await store.add_viewer_session(ViewerEntry("bob", "view-bob1", "alice", "s1", 80.0, 2000.0))
        await store.add_viewer_session(ViewerEntry("bob", "view-bob2", "carol", "s2"))
        entry, holder, sessions = await store.locate("alice", "bob")
        assert entry.session == "sess-alice" and holder.id == "s1" and holder.state == LIVE
        assert sorted(e.session for e in sessions) == ["view-bob1", "view-bob2"]
        assert (await store.locate("nobody", "bob"))[:2] == (None, None)
        changed = await store.replace_slave_viewers("s1", [ViewerReport("dan", "view-dan1", "alice")])
        assert changed == {"bob", "dan"}
        assert sorted(e.session for e in await store.all_viewer_sessions()) == ["view-bob2", "view-dan1"]
        await store.remove_viewer_session("bob", "view-bob2")
        assert await store.viewer_sessions("bob") == []
        assert (await store.mark_dead("s1")) == (["alice"], {"dan"})
        assert await store.all_viewer_sessions() == [] and await store.broadcasts() == []

    run(scenario)


def test_commands_reach_every_subscriber(run):
    async def scenario(store):
        feed = store.command_feed()
        received = asyncio.ensure_future(feed.__anext__())
        for _ in range(100):  # until the subscription (made when the feed is first awaited) is in place
            await store.publish_command("s1", SetCap("view-bob1", 80.0))
            done, _ = await asyncio.wait([received], timeout=0.05)
            if done:
                break
        slave_id, msg_type, body = await asyncio.wait_for(received, 5)
        await feed.aclose()
        assert (slave_id, msg_type) == ("s1", SetCap.TYPE)
        assert SetCap.from_fields(json.loads(body)) == SetCap("view-bob1", 80.0)

    run(scenario)


def test_masters_are_recorded(run):
    async def scenario(store):
        await store.record_master(MasterRecord("m2", "h:2", "h:3", "h:4", NOW))
        await store.record_master(MasterRecord("m1", "h:1", "h:3", "h:4", NOW))
        assert [m.id for m in await store.masters()] == ["m1", "m2"]

    run(scenario)


def test_presence_counts_sessions_per_master(run):
    async def scenario(store):
        await store.presence_change("m1", "alice", 1)
        await store.presence_change("m1", "alice", 1)
        await store.presence_change("m2", "bob", 1)
        assert await store.online(["alice", "bob", "carol"], ["m1", "m2"]) == {"alice", "bob"}
        assert await store.online(["alice", "bob"], ["m2"]) == {"bob"}, "a dead master's sessions do not count"
        await store.presence_change("m1", "alice", -1)
        assert await store.online(["alice"], ["m1"]) == {"alice"}
        await store.presence_change("m1", "alice", -1)
        assert await store.online(["alice"], ["m1"]) == set()
        await store.presence_change("m2", "dan", 1)
        assert await store.clear_presence("m2") == ["bob", "dan"]
        assert await store.online(["bob", "dan"], ["m2"]) == set()

    run(scenario)


def test_events_reach_every_feed_in_order(run):
    async def scenario(store):
        feed = store.event_feed()
        probe = asyncio.ensure_future(feed.__anext__())
        for _ in range(100):  # until the feed (which starts when first awaited) is reading
            await store.publish_event(["probe"], SetCap("session-probe", None))
            done, _ = await asyncio.wait([probe], timeout=0.05)
            if done:
                break
        for i in range(3):
            await store.publish_event(["alice", "bob"], SetCap(f"session-{i:04d}", float(i)))
        events = []
        while len(events) < 3:
            event = await asyncio.wait_for(feed.__anext__(), 5)
            if event[0] != ("probe",):
                events.append(event)
        await feed.aclose()
        assert [users for users, _, _ in events] == [("alice", "bob")] * 3
        sessions = [json.loads(body)["session"] for _, _, body in events]
        assert sessions == ["session-0000", "session-0001", "session-0002"]

    run(scenario)


def test_rate_limits_allow_a_burst_then_the_rate(run):
    async def scenario(store):
        allowed = [await store.limit("msg:alice", NOW, 2.0, 3) for _ in range(5)]
        assert allowed[:3] == [0.0, 0.0, 0.0] and all(wait > 0 for wait in allowed[3:])
        assert abs(allowed[3] - 0.5) < 1e-6, "the next one is allowed half a second later"
        assert await store.limit("msg:alice", NOW + 0.5, 2.0, 3) == 0.0
        assert await store.limit("msg:bob", NOW, 2.0, 3) == 0.0, "limits are per key"

    run(scenario)


def test_a_limit_can_be_looked_at_without_counting(run):
    async def scenario(store):
        for _ in range(5):
            assert await store.limit("look:alice", NOW, 1.0, 2, count=False) == 0.0
        assert [await store.limit("look:alice", NOW, 1.0, 2) for _ in range(2)] == [0.0, 0.0]
        assert await store.limit("look:alice", NOW, 1.0, 2, count=False) > 0, "spent: refused, still not counted"
        assert await store.limit("look:alice", NOW + 1.0, 1.0, 2) == 0.0

    run(scenario)


def test_a_single_use_key_is_accepted_once(run):
    async def scenario(store):
        assert await store.use_once("operator:n1", NOW, 30.0)
        assert not await store.use_once("operator:n1", NOW + 1, 30.0), "a replay within its lifetime"
        assert await store.use_once("operator:n2", NOW + 1, 30.0)

    run(scenario)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.floats(0, 2), min_size=1, max_size=15), rate=st.floats(0.5, 20), burst=st.integers(1, 5))
@example(steps=[0.0, 0.0, 0.0], rate=1.5, burst=2)  # Redis once kept the TAT to 14 digits only
def test_the_store_limits_as_the_pure_rule(run, steps, rate, burst):
    async def scenario(store):
        now, tat = NOW, None
        for step in steps:
            now += step
            expected, new_tat = gcra(tat, now, rate, burst)
            tat = new_tat if new_tat is not None else tat
            assert abs(await store.limit("k", now, rate, burst) - expected) < 1e-6

    run(scenario)


states = st.sampled_from([LIVE, DRAINING, DRAINED, DEAD])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    current=st.none() | st.tuples(st.sampled_from(["sess-one", "sess-two"]), st.booleans(), st.floats(0, 20)),
    holder=st.none() | st.tuples(states, st.sampled_from([LIVE, DRAINING]), st.floats(0, 6)),
    session=st.sampled_from(["sess-one", "sess-two"]),
    move=st.booleans(),
)
def test_the_claim_decides_as_the_pure_rule(run, current, holder, session, move):
    """For any table entry and holder, the store claims exactly as ``decide_claim`` says."""

    async def scenario(store):
        entry = record = None
        if holder is not None:
            state, wanted, age = holder
            record = SlaveRecord("s1", "s1:1", 0, NOW - age, state, wanted)
            await store.record_heartbeat(record)
            await store.set_wanted_state("s1", wanted)
            if state == DEAD:
                await store.mark_dead("s1")
        if current is not None:
            old_session, confirmed, age = current
            entry = BroadcastEntry("alice", old_session, "s1", "s1:1", NOW - age, confirmed)
            if confirmed:
                await store.confirm_broadcast("alice", old_session, "s1", "s1:1", NOW - age)
            else:
                await store.claim_broadcast("alice", old_session, slave("s1"), NOW - age, 3, 10, True)
        expected = decide_claim(entry, record, session, NOW, 3, 10, move)
        claim, _ = await store.claim_broadcast("alice", session, slave("s9"), NOW, 3, 10, move)
        assert claim == expected

    run(scenario)


def test_an_unreachable_store_says_so():
    async def scenario():
        client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
        with pytest.raises(StoreUnavailable):
            await RedisStore(client).slaves()
        await client.aclose()
        fake = MemoryStore()
        fake.state.available = False
        with pytest.raises(StoreUnavailable):
            await fake.broadcasts()

    asyncio.run(scenario())
