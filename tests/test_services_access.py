"""Who may watch whom (U3-U5, U7, U11), through the master's real services in process
(``tests/services.py``): the rules, requests to watch and their answers, invitations,
throws and rooms. ``test_access.py`` holds the pure policy to its properties; here the
services must carry it out."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import ErrorCode, RequestError
from common.messages.accounts import Redirect, ViewRequest
from common.messages.admission import (
    AccessAnswer,
    Answer,
    AskAnswered,
    Decline,
    Invitation,
    InvitationDeclined,
    Invite,
    ThrowViewer,
    ViewAnswer,
    ViewAsk,
    ViewPending,
)
from common.messages.chat import MemberAction, RoomMember
from common.messages.social import AccessList
from common.tokens import LoginClaims
from master.policy.limits import LIMITS, Flood
from tests.services import Cluster, FakeSession

TTL = 60.0  # MasterConfig's request_ttl
BAN = 300.0  # MasterConfig's throw_ban


@pytest.fixture
def cluster():
    with Cluster() as cluster:
        yield cluster


def request(viewer: str, target: str) -> tuple[LoginClaims, ViewRequest]:
    return LoginClaims(viewer), ViewRequest("token", target)


def outcome(cluster: Cluster, viewer: str, broadcaster: FakeSession) -> str:
    """What a request of ``viewer`` to watch the user of the ``broadcaster`` session comes
    to: admit, refuse, ask (the session hears of it) or ignore (the viewer waits, and the
    broadcaster never hears of it)."""
    before = len(broadcaster.of(ViewAsk))
    try:
        answer = cluster.view(viewer, broadcaster.user)
    except RequestError as exc:
        assert exc.code == ErrorCode.ACCESS_REFUSED, exc
        return "refuse"
    if isinstance(answer, Redirect):
        return "admit"
    assert isinstance(answer, ViewPending)
    return "ask" if len(broadcaster.of(ViewAsk)) > before else "ignore"


def broadcasting(cluster: Cluster, user: str = "alice", access: str | None = None) -> FakeSession:
    """``user`` broadcasts under rule ``access``; a session of theirs, attached."""
    if access is not None:
        cluster.run(cluster.master.social.set_pref(user, "access", access))
    session = cluster.connect(user)
    cluster.broadcast(user)
    return session


def answer(cluster: Cluster, viewer: str, how: Answer, broadcaster: str = "alice") -> str:
    return cluster.run(cluster.master.admission.answer(broadcaster, AccessAnswer("token", viewer, how)))


@settings(max_examples=60, deadline=None)
@given(
    rule=st.sampled_from(["everyone", "friends", "list", "ask"]),
    friend=st.booleans(),
    allowed=st.booleans(),
    ignored=st.booleans(),
)
def test_each_rule_with_friends_and_both_lists(rule, friend, allowed, ignored):
    """U3: the ignore list drops a request unheard; the allow list admits; then the rule:
    everyone admits, friends admits the broadcaster's friends, list refuses, ask asks."""
    with Cluster() as cluster:
        social = cluster.master.social
        if friend:
            cluster.run(social.change_friend("alice", "bob", True))
        if allowed:
            cluster.run(social.change_list("alice", "bob", AccessList.ALLOW, True))
        if ignored:
            cluster.run(social.change_list("alice", "bob", AccessList.IGNORE, True))
        alice = broadcasting(cluster, access=rule)
        by_rule = {"everyone": "admit", "friends": "admit" if friend else "refuse", "list": "refuse", "ask": "ask"}
        expected = "ignore" if ignored else "admit" if allowed else by_rule[rule]
        assert outcome(cluster, "bob", alice) == expected
        assert outcome(cluster, "alice", alice) == "admit", "the broadcaster always sees their own broadcast"


def test_only_a_live_broadcast_can_be_asked_for(cluster):
    assert cluster.refused(cluster.master.admission.view(*request("bob", "alice"))).code == ErrorCode.NOT_BROADCASTING
    cluster.broadcast("alice")
    assert isinstance(cluster.view("bob", "alice"), Redirect)


def test_a_request_waits_for_the_broadcaster_and_is_asked_once(cluster):
    """U4: the viewer is told it waits; the broadcaster's sessions hear the request once
    however often the viewer asks again; the answer reaches both sides."""
    alice = broadcasting(cluster, access="ask")
    other_tab = cluster.connect("alice")
    bob = cluster.connect("bob")
    first = cluster.view("bob", "alice")
    assert first == ViewPending("alice", cluster.clock.seconds() + TTL)
    assert cluster.view("bob", "alice") == first, "asking again waits for the same request"
    assert alice.of(ViewAsk) == other_tab.of(ViewAsk) == [ViewAsk("bob", first.expires_at)]
    assert answer(cluster, "bob", Answer.ACCEPT) == "bob may watch you"
    assert bob.of(ViewAnswer) == [ViewAnswer("alice", True)]
    assert other_tab.of(AskAnswered) == [AskAnswered("bob", True)]
    assert isinstance(cluster.view("bob", "alice"), Redirect)


def test_an_accepted_request_is_for_this_broadcast_only(cluster):
    alice = broadcasting(cluster, access="ask")
    cluster.view("bob", "alice")
    answer(cluster, "bob", Answer.ACCEPT)
    cluster.run(cluster.master.store.confirm_broadcast("alice", "session-next", "s1", "s1.example:5301", 0.0))
    assert outcome(cluster, "bob", alice) == "ask"


def test_a_denied_viewer_is_told_so_until_the_request_expires(cluster):
    alice = broadcasting(cluster, access="ask")
    bob = cluster.connect("bob")
    cluster.view("bob", "alice")
    assert answer(cluster, "bob", Answer.DENY) == "bob may not watch you"
    assert bob.of(ViewAnswer) == [ViewAnswer("alice", False)]
    refusal = cluster.refused(cluster.master.admission.view(*request("bob", "alice")))
    assert (refusal.code, refusal.message) == (ErrorCode.DECLINED, "alice declined")
    cluster.advance(TTL)
    assert outcome(cluster, "bob", alice) == "ask", "after the expiry a new request is asked"


def test_always_puts_the_viewer_on_the_allow_list_and_ignore_on_the_ignore_list(cluster):
    alice = broadcasting(cluster, access="ask")
    cluster.view("bob", "alice")
    cluster.view("carol", "alice")
    answer(cluster, "bob", Answer.ALWAYS)
    answer(cluster, "carol", Answer.IGNORE)
    cluster.run(cluster.master.store.confirm_broadcast("alice", "session-next", "s1", "s1.example:5301", 0.0))
    assert outcome(cluster, "bob", alice) == "admit", "in the next broadcast too"
    cluster.advance(TTL)
    assert outcome(cluster, "carol", alice) == "ignore"


def test_an_unanswered_request_expires_with_the_clock(cluster):
    alice = broadcasting(cluster, access="ask")
    cluster.view("bob", "alice")
    cluster.advance(TTL)
    expired = cluster.refused(cluster.master.admission.answer("alice", AccessAnswer("token", "bob", Answer.ACCEPT)))
    assert expired.code == ErrorCode.REQUEST_EXPIRED
    never_asked = cluster.refused(cluster.master.admission.answer("alice", AccessAnswer("t", "carol", Answer.ACCEPT)))
    assert never_asked.code == ErrorCode.NO_REQUEST
    assert outcome(cluster, "bob", alice) == "ask"


def test_a_session_that_attaches_later_hears_the_open_requests_and_invitations(cluster):
    broadcasting(cluster, access="ask")
    cluster.view("bob", "alice")
    cluster.advance(TTL / 2)
    cluster.view("carol", "alice")
    cluster.run(cluster.master.admission.invite("dave", Invite("token", "alice")))
    cluster.advance(TTL / 2)  # bob's request has expired; carol's is open
    late = cluster.connect("alice")
    assert late.received[1:] == [ViewAsk("carol", cluster.clock.seconds() + TTL / 2), Invitation("dave")]


def test_an_invited_viewer_watches_without_a_prompt_and_a_declined_invitation_is_gone(cluster):
    """U5: an invitation admits even under the list rule, once; a decline tells the
    broadcaster and leaves the rule to decide."""
    alice = broadcasting(cluster, access="list")
    bob, carol = cluster.connect("bob"), cluster.connect("carol")
    admission = cluster.master.admission
    assert cluster.run(admission.invite("alice", Invite("token", "bob"))) == "invited bob"
    cluster.run(admission.invite("alice", Invite("token", "carol")))
    assert bob.of(Invitation) == carol.of(Invitation) == [Invitation("alice")]
    assert outcome(cluster, "bob", alice) == "admit"
    assert cluster.run(admission.decline("carol", Decline("token", "alice"))) == "declined alice's invitation"
    assert alice.of(InvitationDeclined) == [InvitationDeclined("carol")]
    assert outcome(cluster, "carol", alice) == "refuse"
    assert cluster.refused(admission.decline("carol", Decline("token", "alice"))).code == ErrorCode.NO_INVITATION
    assert cluster.refused(admission.invite("alice", Invite("token", "alice"))).code == ErrorCode.BAD_USER


def test_a_thrown_viewer_must_ask_again_until_the_ban_ends_and_the_others_stay(cluster):
    """U7: the slave carrying the viewer is told to end its streams; the viewer's next
    request is put to the broadcaster; the other viewers are not touched."""
    alice = broadcasting(cluster)
    cluster.watching("bob", "alice", "view-bob")
    cluster.watching("carol", "alice", "view-carol")
    audience = cluster.master.audience
    assert cluster.run(audience.throw("alice", "bob")) == "removed bob"
    assert cluster.links["s1"].sent[-1] == ThrowViewer("alice", "bob", cluster.clock.seconds() + BAN)
    assert [m for m in cluster.links["s1"].sent if isinstance(m, ThrowViewer) and m.viewer == "carol"] == []
    assert outcome(cluster, "carol", alice) == "admit"
    assert outcome(cluster, "bob", alice) == "ask"
    answer(cluster, "bob", Answer.ACCEPT)
    assert outcome(cluster, "bob", alice) == "admit", "consent given after the throw admits"
    assert cluster.refused(audience.throw("alice", "dave")).code == ErrorCode.NOT_WATCHING


def test_a_ban_ends_with_the_clock(cluster):
    alice = broadcasting(cluster)
    cluster.watching("bob", "alice", "view-bob")
    cluster.run(cluster.master.audience.throw("alice", "bob"))
    cluster.advance(BAN - 1)
    assert outcome(cluster, "bob", alice) == "ask"
    cluster.advance(1)
    assert outcome(cluster, "bob", alice) == "admit"


def test_room_membership_grants_access_only_through_the_owner(cluster):
    """U3 with U11: under ``room:#cams`` the members watch, and membership needs the
    owner's invitation or approval, never a join alone."""
    chat = cluster.master.chat
    cluster.run(chat.change_room("alice", "#cams", True))
    alice = broadcasting(cluster, access="room:#cams")
    cluster.run(chat.change_room("mallory", "#cams", True))
    assert outcome(cluster, "mallory", alice) == "refuse", "asked to join, not a member"
    cluster.run(chat.decide_member("alice", RoomMember("t", "#cams", "mallory", MemberAction.ACCEPT)))
    assert outcome(cluster, "mallory", alice) == "admit"
    cluster.run(chat.decide_member("alice", RoomMember("t", "#cams", "bob", MemberAction.INVITE)))
    assert outcome(cluster, "bob", alice) == "refuse", "invited to the room, not in it yet"
    assert cluster.run(chat.change_room("bob", "#cams", True)) == "you are in #cams"
    assert outcome(cluster, "bob", alice) == "admit"
    cluster.run(chat.decide_member("alice", RoomMember("t", "#cams", "bob", MemberAction.REMOVE)))
    assert outcome(cluster, "bob", alice) == "refuse"
    assert outcome(cluster, "carol", alice) == "refuse"


def test_requests_to_watch_past_the_burst_are_refused_until_the_clock_allows_one_more(cluster):
    limit = LIMITS[Flood.VIEW_USER]
    alice = broadcasting(cluster)
    for _ in range(limit.burst):
        assert outcome(cluster, "mallory", alice) == "admit"
    flood = cluster.refused(cluster.master.admission.view(*request("mallory", "alice")))
    assert flood.code == ErrorCode.RATE_LIMITED
    assert outcome(cluster, "bob", alice) == "admit", "the limit is each user's own"
    cluster.advance(1 / limit.rate)
    assert outcome(cluster, "mallory", alice) == "admit"
