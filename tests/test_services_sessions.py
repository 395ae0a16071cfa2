"""Users' sessions attaching to masters (U10) through the master's real services in
process (``tests/services.py``): what an attach sends and in which order, the hooks,
several sessions of one user, presence from the first attach to the last detach, the
end of a dead master's sessions and of old tokens, by the clock."""

import time

import pytest

from common.errors import ErrorCode, RequestError
from common.messages.accounts import TokensEnded
from common.messages.admission import Invitation, Invite, ViewAsk
from common.messages.chat import ChatMessage, MsgSend
from common.messages.social import Attached, Presence, PresenceState
from common.signing import CLOCK_SKEW
from common.tokens import LoginClaims
from master.services.sessions import MAX_ATTACHED
from tests.services import SIGNER, Cluster

ONLINE, OFFLINE = PresenceState.ONLINE, PresenceState.OFFLINE


@pytest.fixture
def cluster():
    with Cluster(masters=("m1", "m2")) as cluster:
        yield cluster


def friends(cluster: Cluster, *pairs: tuple[str, str]) -> None:
    """Make each pair mutual friends."""
    for a, b in pairs:
        cluster.run(cluster.master.social.change_friend(a, b, True))
        cluster.run(cluster.master.social.change_friend(b, a, True))


def test_an_attach_sends_attached_then_what_the_hooks_send_then_the_messages(cluster):
    master = cluster.master
    cluster.run(master.social.set_pref("alice", "access", "ask"))
    cluster.broadcast("alice")
    cluster.view("bob", "alice")
    cluster.run(master.admission.invite("dave", Invite("token", "alice")))
    cluster.run(master.chat.send("carol", MsgSend("token", "alice", "hi", "c1")))
    heard = []

    async def hook(session, user):
        heard.append((user, list(session.received)))

    master.sessions.on_attach.append(hook)
    alice = cluster.connect("alice", since=None)
    expires = cluster.clock.seconds() + 60.0
    assert [type(m) for m in alice.received] == [Attached, ViewAsk, Invitation, ChatMessage]
    assert alice.received[:3] == [Attached("alice"), ViewAsk("bob", expires), Invitation("dave")]
    assert heard == [("alice", alice.received[:3])], "hooks run in order, after admission's catch-up"


def test_every_session_of_a_user_hears_its_events_and_friends_hear_the_first_and_last(cluster):
    friends(cluster, ("alice", "bob"))
    cluster.run(cluster.master.social.change_friend("carol", "bob", True))  # bob has not added carol
    alice = cluster.connect("alice", presence=True)
    carol = cluster.connect("carol", presence=True)
    first, second = cluster.connect("bob", "m1"), cluster.connect("bob", "m2")
    assert alice.of(Presence) == [Presence("bob", ONLINE)], "once, at bob's first session"
    cluster.run(cluster.master.admission.invite("alice", Invite("token", "bob")))
    assert first.of(Invitation) == second.of(Invitation) == [Invitation("alice")]
    cluster.disconnect(first, "m1")
    cluster.run(cluster.master.admission.invite("dave", Invite("token", "bob")))
    assert first.of(Invitation) == [Invitation("alice")], "a detached session hears nothing more"
    assert second.of(Invitation) == [Invitation("alice"), Invitation("dave")]
    assert alice.of(Presence) == [Presence("bob", ONLINE)], "bob is still online"
    cluster.disconnect(second, "m2")
    assert alice.of(Presence) == [Presence("bob", ONLINE), Presence("bob", OFFLINE)]
    assert carol.of(Presence) == [], "presence goes to mutual friends only"
    assert cluster.connect("dave").of(Presence) == [], "nor to a session that does not show it"


def test_a_user_attaches_at_most_so_many_sessions_to_one_master(cluster):
    for _ in range(MAX_ATTACHED):
        cluster.connect("mallory", "m1")
    with pytest.raises(RequestError) as refused:
        cluster.connect("mallory", "m1")
    assert refused.value.code == ErrorCode.RATE_LIMITED
    cluster.connect("mallory", "m2")


def test_a_dead_masters_sessions_stop_counting_when_its_heartbeat_is_old():
    with Cluster(masters=("m1", "m2"), dead_after=3.0) as cluster:
        friends(cluster, ("alice", "bob"))
        alice = cluster.connect("alice", "m1", presence=True)
        cluster.connect("bob", "m2")
        assert alice.of(Presence) == [Presence("bob", ONLINE)]
        cluster.clock.advance(3.0)
        cluster.run(cluster.on("m1").registry.sweep())
        assert alice.of(Presence) == [Presence("bob", ONLINE)], "m2's heartbeat is 3 s old: alive"
        cluster.clock.advance(0.5)
        cluster.run(cluster.on("m1").registry.sweep())
        assert alice.of(Presence) == [Presence("bob", ONLINE), Presence("bob", OFFLINE)]
        rows = cluster.run(cluster.master.social.friends("alice")).friends
        assert [(row.user, row.presence) for row in rows] == [("bob", OFFLINE)]


def test_logout_everywhere_ends_the_sessions_of_older_tokens_on_every_master(cluster):
    old = [cluster.connect("bob", name) for name in ("m1", "m2")]
    cluster.run(cluster.master.accounts.end_tokens(LoginClaims("bob")))
    assert all(s.rejected and s.rejected[0] == ErrorCode.BAD_TOKEN for s in old)
    new = cluster.connect("bob", token_epoch=1)
    cluster.run(cluster.master.events.push(["bob"], TokensEnded(1)))
    assert new.rejected is None


def test_a_login_token_expires_with_the_clock(cluster):
    accounts = cluster.master.accounts
    cluster.clock.advance(time.time() - cluster.clock.seconds())  # tokens are signed at the wall clock's time
    cluster.run(accounts.register("erin", "a good password"))
    token = cluster.run(accounts.login("erin", "a good password")).token
    assert cluster.run(accounts.authenticate(token)).user == "erin"
    cluster.clock.advance(SIGNER.token_ttl + CLOCK_SKEW + 1)
    expired = cluster.refused(accounts.authenticate(token))
    assert (expired.code, expired.message) == (ErrorCode.BAD_TOKEN, "login token has expired; log in again")
