"""Friend lists and the allow and ignore lists (U1, U3): the same suite for
``master.storage.db.relations`` on PostgreSQL and its in-memory fake."""

from common.errors import ErrorCode
from common.messages.social import AccessList
from tests.db_tables import refused, register, run, scratch, tables  # noqa: F401 (fixtures)

ALLOW, IGNORE = AccessList.ALLOW, AccessList.IGNORE


def test_a_friend_is_added_and_removed_once_each(tables):
    register(tables, "alice", "bob")
    relations = tables.relations
    assert run(relations.change_friend("alice", "bob", True)) is True
    assert run(relations.change_friend("alice", "bob", True)) is False
    assert run(relations.friends("alice")) == ["bob"]
    assert run(relations.change_friend("alice", "bob", False)) is True
    assert run(relations.change_friend("alice", "bob", False)) is False
    assert run(relations.friends("alice")) == []


def test_friends_are_one_sided_and_listed_by_name(tables):
    register(tables, "alice", "bob", "carol", "dave")
    for friend in ("dave", "bob", "carol"):
        run(tables.relations.change_friend("alice", friend, True))
    run(tables.relations.change_friend("carol", "alice", True))
    assert run(tables.relations.friends("alice")) == ["bob", "carol", "dave"]
    assert run(tables.relations.friend_rows("alice")) == [("bob", False), ("carol", True), ("dave", False)]
    assert run(tables.relations.friends("bob")) == []
    assert run(tables.relations.friend_rows("carol")) == [("alice", True)]


def test_presence_is_between_mutual_friends_only(tables):
    register(tables, "alice", "bob", "carol", "dave")
    for user, friend in (("alice", "bob"), ("bob", "alice"), ("alice", "dave"), ("dave", "alice"), ("alice", "carol")):
        run(tables.relations.change_friend(user, friend, True))
    assert sorted(run(tables.relations.mutual("alice"))) == ["bob", "dave"], "PostgreSQL gives no order"
    assert run(tables.relations.mutual("bob")) == ["alice"]
    assert run(tables.relations.mutual("carol")) == []


def test_an_unknown_user_has_no_friends_and_cannot_be_one(tables):
    register(tables, "alice")
    assert run(tables.relations.friends("nobody")) == []
    assert run(tables.relations.friend_rows("nobody")) == []
    assert run(tables.relations.mutual("nobody")) == []
    assert refused(tables.relations.change_friend("alice", "nobody", True), ErrorCode.UNKNOWN_USER) == (
        "no such user 'nobody'"
    )
    assert refused(tables.relations.change_friend("ghost", "nobody", False), ErrorCode.UNKNOWN_USER) == (
        "no such user 'ghost'"
    ), "the first unknown name is the one refused"


def test_nobody_is_their_own_friend(tables):
    register(tables, "alice")
    assert refused(tables.relations.change_friend("alice", "alice", True), ErrorCode.BAD_USER) == (
        "you cannot be your own friend"
    )
    assert refused(tables.relations.change_friend("nobody", "nobody", False), ErrorCode.BAD_USER)


def test_the_allow_and_ignore_lists_are_kept_apart(tables):
    register(tables, "alice", "bob", "carol")
    relations = tables.relations
    assert run(relations.change_list("alice", "bob", ALLOW, True)) is True
    assert run(relations.change_list("alice", "bob", ALLOW, True)) is False
    assert run(relations.ignores("alice", "bob")) is False, "allowed is not ignored"
    assert run(relations.change_list("alice", "bob", IGNORE, True)) is True
    assert run(relations.ignores("alice", "bob")) is True
    assert run(relations.ignores("bob", "alice")) is False, "ignoring is one-sided"
    assert run(relations.change_list("alice", "bob", ALLOW, False)) is True
    assert run(relations.ignores("alice", "bob")) is True
    assert run(relations.change_list("alice", "bob", IGNORE, False)) is True
    assert run(relations.change_list("alice", "bob", IGNORE, False)) is False
    assert run(relations.ignores("alice", "bob")) is False


def test_a_list_refuses_its_owner_and_unknown_users(tables):
    register(tables, "alice")
    assert refused(tables.relations.change_list("alice", "alice", IGNORE, True), ErrorCode.BAD_USER) == (
        "you cannot put yourself on your ignore list"
    )
    assert refused(tables.relations.change_list("alice", "alice", ALLOW, True), ErrorCode.BAD_USER) == (
        "you cannot put yourself on your allow list"
    )
    assert refused(tables.relations.change_list("alice", "nobody", ALLOW, True), ErrorCode.UNKNOWN_USER)
    assert run(tables.relations.ignores("nobody", "alice")) is False
    assert run(tables.relations.ignores("alice", "nobody")) is False
