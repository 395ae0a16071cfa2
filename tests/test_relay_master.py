"""Relay chains on the master (C10), on the in-memory store: where viewers past
``relay_after`` go, where a relay is told to pull from, and the tree in the status."""

import time

from common.messages.cluster import Heartbeat, RelayLink, SlaveState
from common.messages.relay import RelayUpstream
from common.tokens import LoginClaims, ViewTicket
from master.policy.records import BroadcastEntry, SlaveRecord, ViewerEntry
from master.policy.status import relay_rows
from tests.services import SIGNER, FakeLink
from tests.test_master_logic import make_master, run


def relaying_master():
    return make_master(relay_after=1)


async def view(master, user):
    entry, slave, others = await master.redirects.find_broadcast("alice", user)
    node = await master.relays.place_viewer(entry)
    redirect = master.redirects.view_redirect(LoginClaims(user), entry, slave, others, node=node)
    ticket = SIGNER.check(redirect.ticket, ViewTicket, time.time())
    await master.store.add_viewer_session(ViewerEntry(user, ticket.session, "alice", ticket.slave))
    return redirect, ticket


def test_viewers_past_relay_after_go_to_a_relay_that_pulls_from_the_origin():
    master = relaying_master()
    links = {s: FakeLink(s) for s in ("s1", "s2", "s3")}

    async def scenario():
        for link in links.values():
            await master.registry.heartbeat(link, Heartbeat(0, 0, 0, SlaveState.LIVE))
        await master.store.confirm_broadcast("alice", "session-alice", "s1", links["s1"].hello.addr, 1000.0)
        first, ticket = await view(master, "bob")
        assert (first.slave_id, ticket.upstream) == ("s1", "")
        second, ticket = await view(master, "carol")
        assert second.slave_id in ("s2", "s3") and second.slave == links[second.slave_id].hello.addr
        assert (ticket.slave, ticket.upstream, ticket.upstream_addr, ticket.depth) == (
            second.slave_id,
            "s1",
            "s1.example:5301",
            1,
        )
        relay = second.slave_id
        await master.registry.heartbeat(
            links[relay], Heartbeat(1, 1, 1, SlaveState.LIVE, relays=(RelayLink("alice", "s1"),))
        )
        answer = await master.relays.upstream(relay, "alice", avoid="s1")
        assert answer == RelayUpstream("alice", "s1", "s1.example:5301", 1)  # nothing else may feed it
        assert await master.relays.upstream(relay, "nobody", avoid="") == RelayUpstream("nobody")

    run(scenario)


def test_without_relay_after_every_viewer_goes_to_the_origin():
    master = make_master()
    link = FakeLink("s1")

    async def scenario():
        await master.registry.heartbeat(link, Heartbeat(0, 0, 0, SlaveState.LIVE))
        await master.registry.heartbeat(FakeLink("s2"), Heartbeat(0, 0, 0, SlaveState.LIVE))
        await master.store.confirm_broadcast("alice", "session-alice", "s1", link.hello.addr, 1000.0)
        for user in ("bob", "carol", "dave"):
            redirect, ticket = await view(master, user)
            assert (redirect.slave_id, ticket.upstream) == ("s1", "")

    run(scenario)


def test_the_status_shows_each_tree_origin_first():
    slaves = [
        SlaveRecord("s1", "a", 0, 0.0),
        SlaveRecord("s2", "b", 0, 0.0, relays=(("alice", "s1"),)),
        SlaveRecord("s3", "c", 0, 0.0, relays=(("alice", "s2"),)),
    ]
    broadcasts = [BroadcastEntry("alice", "session-a", "s1", "a", 0.0, True), BroadcastEntry("bea", "x", "s2", "b", 0)]
    viewers = [ViewerEntry("v1", "x1", "alice", "s1"), ViewerEntry("v2", "x2", "alice", "s3")]
    rows = relay_rows(slaves, broadcasts, viewers)
    assert [(r.user, r.slave, r.upstream, r.depth, r.viewers) for r in rows] == [
        ("alice", "s1", "", 0, 1),
        ("alice", "s2", "s1", 1, 0),
        ("alice", "s3", "s2", 2, 1),
    ]


def test_a_burst_of_joins_is_spread_before_the_slaves_report_them():
    master = relaying_master()
    links = {s: FakeLink(s) for s in ("s1", "s2", "s3")}

    async def scenario():
        for link in links.values():
            await master.registry.heartbeat(link, Heartbeat(0, 0, 0, SlaveState.LIVE))
        await master.store.confirm_broadcast("alice", "session-alice", "s1", links["s1"].hello.addr, 1000.0)
        slaves = []
        for user in ("bob", "carol", "dave"):  # none of them has reached its slave yet
            entry, slave, others = await master.redirects.find_broadcast("alice", user)
            node = await master.relays.place_viewer(entry)
            slaves.append(master.redirects.view_redirect(LoginClaims(user), entry, slave, others, node=node).slave_id)
        assert sorted(slaves) == ["s1", "s2", "s3"]

    run(scenario)


def test_a_viewer_sent_to_an_existing_relay_carries_its_upstream():
    """A relay's slave that restarted within the dead-slave timeout has lost its copy while
    the master still counts it as a relay (its viewers, its last heartbeat): the ticket names
    the upstream, so that slave pulls the broadcast again instead of refusing the viewer."""
    master = relaying_master()
    links = {s: FakeLink(s) for s in ("s1", "s2")}

    async def scenario():
        await master.registry.heartbeat(links["s1"], Heartbeat(0, 0, 0, SlaveState.LIVE))
        await master.registry.heartbeat(
            links["s2"], Heartbeat(0, 0, 0, SlaveState.LIVE, relays=(RelayLink("alice", "s1"),))
        )
        await master.store.confirm_broadcast("alice", "session-alice", "s1", links["s1"].hello.addr, 1000.0)
        await view(master, "bob")  # the origin's one viewer (relay_after=1)
        redirect, ticket = await view(master, "carol")
        assert redirect.slave_id == "s2"
        assert (ticket.upstream, ticket.upstream_addr, ticket.depth) == ("s1", "s1.example:5301", 1)

    run(scenario)
