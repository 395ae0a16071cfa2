"""Friends, the live list, the allow and ignore lists and the settings (U1, U3, U8, U10)
through the master's real services in process (``tests/services.py``)."""

import pytest

from common.errors import ErrorCode
from common.messages.social import AccessList, LiveRow, PrefsChanged, PresenceState
from tests.services import Cluster


@pytest.fixture
def cluster():
    with Cluster() as cluster:
        yield cluster


def test_friends_see_each_others_presence_once_both_added_each_other(cluster):
    social = cluster.master.social
    assert cluster.run(social.change_friend("bob", "alice", True)).endswith("once they add you too")
    assert cluster.run(social.change_friend("bob", "alice", True)).startswith("alice is your friend already")
    cluster.broadcast("alice")
    rows = cluster.run(social.friends("bob")).friends
    assert [(r.user, r.presence) for r in rows] == [("alice", PresenceState.PENDING)]
    assert cluster.run(social.change_friend("alice", "bob", True)) == "bob is your friend"
    assert cluster.run(social.friends("bob")).friends[0].presence == PresenceState.BROADCASTING
    assert cluster.run(social.change_friend("alice", "bob", False)) == "bob is no longer your friend"
    assert cluster.run(social.change_friend("alice", "bob", False)) == "bob was not your friend"
    assert cluster.run(social.friends("bob")).friends[0].presence == PresenceState.PENDING
    assert cluster.refused(social.change_friend("bob", "nobody", True)).code == ErrorCode.UNKNOWN_USER


def test_the_live_list_holds_what_the_user_may_watch_friends_first_with_viewer_counts(cluster):
    social = cluster.master.social
    cluster.run(social.set_pref("carol", "access", "ask"))
    cluster.run(social.set_pref("dave", "access", "list"))
    cluster.run(social.change_friend("bob", "mallory", True))
    for user in ("alice", "carol", "dave", "mallory", "bob"):
        cluster.broadcast(user)
    cluster.watching("carol", "alice", "view-1")
    cluster.watching("dave", "alice", "view-2")
    rows = cluster.run(social.live("bob")).broadcasts
    assert rows == (
        LiveRow("mallory", 0, True, "admit"),
        LiveRow("alice", 2, False, "admit"),
        LiveRow("carol", 0, False, "ask"),
    ), "not dave (list only), not bob himself"
    cluster.run(cluster.master.chat.change_room("carol", "#cams", True))
    assert [row.user for row in cluster.run(social.live("bob", "#cams")).broadcasts] == ["carol"]


def test_the_lists_say_what_changed(cluster):
    social = cluster.master.social
    allow = social.change_list
    assert cluster.run(allow("alice", "bob", AccessList.ALLOW, True)) == "bob is on your allow list"
    assert cluster.run(allow("alice", "bob", AccessList.ALLOW, True)) == "bob is on your allow list already"
    assert cluster.run(social.change_list("alice", "bob", AccessList.IGNORE, False)) == (
        "bob is off your ignore list already"
    )


def test_settings_are_stored_checked_and_pushed_to_the_users_own_sessions(cluster):
    """U8: a setting is stored, read back at the next start, and pushed to the running
    sessions of its user (a broadcast applies it) and no one else's."""
    social = cluster.master.social
    alice, bob = cluster.connect("alice"), cluster.connect("bob")
    defaults = cluster.run(social.settings("alice"))
    changed = cluster.run(social.set_pref("alice", "quality", "3"))
    assert changed.quality == 3 and changed.size == defaults.size
    assert alice.of(PrefsChanged) == [PrefsChanged(changed)] and bob.of(PrefsChanged) == []
    assert cluster.run(social.settings("alice")) == changed
    bad = cluster.refused(social.set_pref("alice", "quality", "11"))
    assert bad.code == ErrorCode.BAD_PREF
    assert cluster.refused(social.set_pref("alice", "access", "room:nope")).code == ErrorCode.BAD_PREF
    assert cluster.run(social.settings("alice")) == changed
