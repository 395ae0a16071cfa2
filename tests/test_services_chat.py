"""Messages and rooms (U10, U11) through the master's real services in process
(``tests/services.py``): every attached session gets each message of its user once and
in order, on whichever master; catch-up on attach; history; ignores; the flood limit."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred

from common.errors import ErrorCode
from common.messages.chat import ChatMessage, MsgSend
from common.messages.social import AccessList, Attach
from tests.services import Cluster, FakeSession

PEOPLE = ("alice", "bob", "carol")
CLIENT_IDS = itertools.count()


@pytest.fixture
def cluster():
    with Cluster(masters=("m1", "m2")) as cluster:
        yield cluster


def send(cluster: Cluster, sender: str, to: str, text: str, master: str | None = None) -> int:
    """Send a message (a fresh client id each time); its id."""
    return cluster.run(cluster.on(master).chat.send(sender, MsgSend("token", to, text, f"c{next(CLIENT_IDS)}"))).id


def ids(session: FakeSession) -> list[int]:
    return [m.message.id for m in session.of(ChatMessage)]


def texts(session: FakeSession) -> list[str]:
    return [m.message.text for m in session.of(ChatMessage)]


def test_a_message_reaches_every_session_of_both_sides_on_any_master_once(cluster):
    bob_here, bob_there = cluster.connect("bob", "m1"), cluster.connect("bob", "m2")
    alice = cluster.connect("alice", "m2")
    carol = cluster.connect("carol", "m1")
    first = send(cluster, "alice", "bob", "hello", master="m1")
    assert ids(bob_here) == ids(bob_there) == ids(alice) == [first], "the sender's sessions see it too"
    assert ids(carol) == []
    line = bob_here.of(ChatMessage)[0].message
    assert (line.sender, line.to, line.text, line.sent_at) == ("alice", "bob", "hello", cluster.clock.seconds())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("send"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE + ("#room",))),
            st.tuples(st.just("attach"), st.sampled_from(PEOPLE), st.sampled_from(("m1", "m2"))),
            st.tuples(st.just("feed lost"), st.sampled_from(("m1", "m2")), st.none()),
        ),
        max_size=30,
    )
)
def test_each_session_gets_every_message_of_its_user_once_and_in_order(steps):
    """Whatever the interleaving of messages, sessions attaching (from the start: since
    0) on either master, and a master's event feed catching everyone up again, each
    session ends with exactly its user's messages, each once, in id order."""
    with Cluster(masters=("m1", "m2")) as cluster:
        for person in PEOPLE:
            cluster.run(cluster.master.chat.change_room(person, "#room", True))
            if person != "alice":
                cluster.run(cluster.master.rooms.decide("alice", person, "#room", "accept", 0.0))
        sessions: list[FakeSession] = []
        involving: dict[str, list[int]] = {p: [] for p in PEOPLE}
        for i, (what, who, where) in enumerate(steps):
            if what == "send":
                message = send(cluster, who, where, f"m{i}", master="m2" if i % 2 else "m1")
                for person in PEOPLE if where == "#room" else {who, where}:
                    involving[person].append(message)
            elif what == "attach":
                sessions.append(cluster.connect(who, where, since=0))
            else:
                cluster.run(cluster.on(who).events.catch_up_everyone())
        for session in sessions:
            assert ids(session) == involving[session.user]


def test_messages_pushed_during_a_catch_up_wait_behind_it(cluster):
    """A session catching up (it reads slowly) gets the new message after the old ones."""
    old = [send(cluster, "alice", "bob", f"old {i}") for i in range(2)]
    bob = FakeSession("bob", Attach("token", since=0))
    bob.drain = Deferred()
    attaching = cluster.attach(bob)
    cluster.until(lambda: len(ids(bob)) == 1)  # the first old message is sent; bob has not read it
    new = send(cluster, "alice", "bob", "new")
    assert ids(bob) == old[:1], "the new message waits"
    drain, bob.drain = bob.drain, None
    drain.callback(None)
    cluster.finish(attaching)
    assert ids(bob) == old + [new]


def test_a_session_starting_afresh_gets_what_its_user_has_not_seen(cluster):
    """U10: a message to someone offline is shown at their next start, once they have
    said they showed it no session starting afresh gets it again, and history keeps it."""
    first = send(cluster, "alice", "bob", "while you were out")
    mine = send(cluster, "bob", "alice", "my own")
    bob = cluster.connect("bob", since=None)
    assert ids(bob) == [first], "unread: not what bob sent himself"
    cluster.run(cluster.master.chat.seen("bob", first))
    later = send(cluster, "carol", "bob", "later")
    assert ids(cluster.connect("bob", "m2", since=None)) == [later]
    assert ids(cluster.connect("bob", since=first)) == [mine, later], "since: every message after it"
    history = cluster.run(cluster.master.chat.history("bob", None, 10)).messages
    assert [line.id for line in history] == [first, mine, later]
    assert [line.id for line in cluster.run(cluster.master.chat.history("bob", "carol", 10)).messages] == [later]


def test_a_session_that_shows_no_messages_gets_none(cluster):
    quiet = cluster.connect("bob", messages=False)
    send(cluster, "alice", "bob", "hi")
    assert ids(quiet) == []


def test_a_retried_message_is_stored_and_shown_once(cluster):
    bob = cluster.connect("bob")
    chat = cluster.master.chat
    first = cluster.run(chat.send("alice", MsgSend("token", "bob", "once", "retry-1")))
    again = cluster.run(chat.send("alice", MsgSend("token", "bob", "once", "retry-1")))
    assert again == first
    assert texts(bob) == ["once"]
    assert len(cluster.run(chat.history("bob", "alice", 10)).messages) == 1


def test_an_ignored_sender_is_refused_and_a_room_message_skips_who_ignores_them(cluster):
    social, chat = cluster.master.social, cluster.master.chat
    cluster.run(chat.change_room("alice", "#room", True))
    for member in ("bob", "mallory"):
        cluster.run(chat.change_room(member, "#room", True))
        cluster.run(cluster.master.rooms.decide("alice", member, "#room", "accept", 0.0))
    cluster.run(social.change_list("bob", "mallory", AccessList.IGNORE, True))
    alice, bob, carol = cluster.connect("alice"), cluster.connect("bob"), cluster.connect("carol")
    refusal = cluster.refused(chat.send("mallory", MsgSend("token", "bob", "psst", "m1")))
    assert (refusal.code, refusal.message) == (ErrorCode.ACCESS_REFUSED, "bob does not accept your messages")
    send(cluster, "mallory", "#room", "to the room")
    assert texts(alice) == ["to the room"]
    assert texts(bob) == texts(carol) == [], "bob ignores mallory; carol is not a member"


def test_a_room_takes_messages_from_its_members_only(cluster):
    chat = cluster.master.chat
    cluster.run(chat.change_room("alice", "#room", True))
    cluster.run(chat.change_room("bob", "#room", True))  # asked to join: not a member yet
    refusal = cluster.refused(chat.send("bob", MsgSend("token", "#room", "let me in", "b1")))
    assert refusal.code == ErrorCode.NOT_A_MEMBER


def test_messages_past_the_burst_are_refused_until_the_clock_allows_one_more():
    with Cluster(message_rate=2.0, message_burst=3) as cluster:
        for i in range(3):
            send(cluster, "mallory", "bob", f"spam {i}")
        flood = cluster.refused(cluster.master.chat.send("mallory", MsgSend("token", "bob", "more", "x1")))
        assert flood.code == ErrorCode.RATE_LIMITED and flood.message.startswith("too many messages; wait")
        send(cluster, "alice", "bob", "others are not limited")
        cluster.clock.advance(0.5)
        send(cluster, "mallory", "bob", "one more")
        assert cluster.refused(cluster.master.chat.send("mallory", MsgSend("token", "bob", "again", "x2"))).code == (
            ErrorCode.RATE_LIMITED
        )
