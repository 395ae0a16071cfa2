"""Instant messages (U10): stored once whatever the retries, read back after an id, for a
session that missed some, and for the history. The same suite for ``master.storage.db.messages``
on PostgreSQL and its in-memory fake."""

from common.errors import ErrorCode
from common.messages.chat import ChatLine, MemberAction
from common.messages.social import AccessList
from tests.db_tables import refused, register, run, scratch, tables  # noqa: F401 (fixtures)

NOW = 1_000_000.0


def send(tables, sender, to, text, now=NOW, client_id=None) -> ChatLine:
    return run(tables.messages.store(sender, to, text, client_id or f"{sender}-{text}", now))[0]


def room_of(tables, owner, room, *members, now=NOW):
    run(tables.rooms.join(owner, room, now))
    for member in members:
        run(tables.rooms.decide(owner, member, room, MemberAction.INVITE, now))
        run(tables.rooms.join(member, room, now))


def test_a_message_to_a_user_is_stored_once_whatever_the_retries(tables):
    register(tables, "alice", "bob")
    store = tables.messages.store
    line = ChatLine(1, "alice", "bob", "hi", NOW)
    assert run(store("alice", "bob", "hi", "c1", NOW)) == (line, ["alice", "bob"])
    assert run(store("alice", "bob", "hi again", "c1", NOW + 1)) == (line, ["alice", "bob"]), "the first one"
    assert run(store("bob", "alice", "yo", "c1", NOW + 2))[0] == ChatLine(3, "bob", "alice", "yo", NOW + 2), (
        "client ids are the sender's own; a retry uses up an id, as a PostgreSQL sequence does"
    )
    assert run(tables.messages.history("alice", None, 10)) == [line, ChatLine(3, "bob", "alice", "yo", NOW + 2)]
    note = ChatLine(4, "alice", "alice", "note", NOW + 3)
    assert run(store("alice", "alice", "note", "c2", NOW + 3)) == (note, ["alice"]), "a note to oneself"


def test_a_message_needs_known_users_who_do_not_ignore_the_sender(tables):
    register(tables, "alice", "bob")
    store = tables.messages.store
    assert refused(store("alice", "nobody", "hi", "c1", NOW), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"
    assert refused(store("nobody", "bob", "hi", "c1", NOW), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"
    run(tables.relations.change_list("bob", "alice", AccessList.IGNORE, True))
    assert refused(store("alice", "bob", "hi", "c1", NOW), ErrorCode.ACCESS_REFUSED) == (
        "bob does not accept your messages"
    )
    assert run(store("bob", "alice", "hi", "c1", NOW))[1] == ["alice", "bob"], "ignoring is one-sided"
    assert run(tables.messages.history("bob", None, 10)) == [ChatLine(1, "bob", "alice", "hi", NOW)]


def test_a_room_message_goes_to_its_members_who_do_not_ignore_the_sender(tables):
    register(tables, "alice", "bob", "carol", "dave")
    room_of(tables, "alice", "#cams", "bob", "carol")
    run(tables.relations.change_list("carol", "bob", AccessList.IGNORE, True))
    line, recipients = run(tables.messages.store("bob", "#cams", "hello", "c1", NOW + 1))
    assert (line, recipients) == (ChatLine(1, "bob", "#cams", "hello", NOW + 1), ["alice", "bob"])
    assert refused(tables.messages.store("dave", "#cams", "hi", "c1", NOW), ErrorCode.NOT_A_MEMBER) == (
        "join #cams to write in it: framecast join #cams"
    )
    assert refused(tables.messages.store("dave", "#none", "hi", "c1", NOW), ErrorCode.UNKNOWN_ROOM) == (
        "there is no room #none: framecast join #none creates it"
    )


def test_a_session_gets_what_its_user_has_not_seen_without_their_own(tables):
    register(tables, "alice", "bob")
    lines = [send(tables, "alice", "bob", "1"), send(tables, "bob", "alice", "2"), send(tables, "alice", "bob", "3")]
    after = tables.messages.after
    assert run(after("bob", None)) == [lines[0], lines[2]], "nothing seen yet, and not bob's own"
    assert run(tables.messages.seen("bob", lines[0].id)) is None
    assert run(after("bob", None)) == [lines[2]]
    run(tables.messages.seen("bob", lines[0].id - 1))
    assert run(after("bob", None)) == [lines[2]], "the cursor never moves back"
    run(tables.messages.seen("bob", lines[2].id))
    assert run(after("bob", None)) == []
    assert run(after("bob", 0)) == lines, "after an id: their own too"
    assert run(after("bob", lines[0].id)) == lines[1:]
    assert run(after("bob", 0, limit=2)) == lines[:2]
    assert run(after("alice", None, limit=1)) == [lines[1]]


def test_a_room_shows_its_messages_from_joining_until_leaving(tables):
    register(tables, "alice", "bob", "carol")
    room_of(tables, "alice", "#cams")
    before = send(tables, "alice", "#cams", "before", NOW)
    room_of(tables, "alice", "#cams", "bob", now=NOW + 1)
    during = send(tables, "alice", "#cams", "during", NOW + 1)
    assert run(tables.messages.after("bob", 0)) == [during], "from the moment bob joined"
    assert run(tables.messages.history("bob", "#cams", 10)) == [during]
    assert run(tables.messages.history("alice", "#cams", 10)) == [before, during]
    assert run(tables.messages.after("carol", 0)) == [], "not a member"
    run(tables.rooms.leave("bob", "#cams"))
    assert run(tables.messages.after("bob", 0)) == []


def test_an_ignored_sender_disappears_from_what_one_reads(tables):
    register(tables, "alice", "bob", "carol")
    room_of(tables, "alice", "#cams", "bob", "carol")
    lines = [send(tables, "bob", "carol", "1"), send(tables, "bob", "#cams", "2"), send(tables, "alice", "carol", "3")]
    run(tables.relations.change_list("carol", "bob", AccessList.IGNORE, True))
    assert run(tables.messages.after("carol", 0)) == [lines[2]]
    assert run(tables.messages.history("carol", None, 10)) == [lines[2]]
    assert run(tables.messages.history("alice", None, 10)) == [lines[1], lines[2]]


def test_the_history_is_the_latest_lines_with_a_peer_or_in_a_room(tables):
    register(tables, "alice", "bob", "carol")
    room_of(tables, "alice", "#cams", "bob")
    lines = [
        send(tables, "alice", "bob", "1"),
        send(tables, "bob", "alice", "2"),
        send(tables, "alice", "#cams", "3"),
        send(tables, "carol", "alice", "4"),
        send(tables, "bob", "carol", "5"),
    ]
    history = tables.messages.history
    assert run(history("alice", None, 10)) == lines[:4]
    assert run(history("alice", None, 2)) == lines[2:4], "the latest, oldest first"
    assert run(history("alice", None, 0)) == []
    assert run(history("alice", "bob", 10)) == lines[:2], "direct lines only"
    assert run(history("alice", "bob", 1)) == [lines[1]]
    assert run(history("alice", "carol", 10)) == [lines[3]], "not bob's line to carol"
    assert run(history("alice", "#cams", 10)) == [lines[2]]
    assert run(history("carol", "#cams", 10)) == []
    assert run(history("alice", "#none", 10)) == []


def test_reading_needs_a_known_user(tables):
    register(tables, "alice")
    messages = tables.messages
    assert refused(messages.after("nobody", None), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"
    assert refused(messages.history("nobody", None, 10), ErrorCode.UNKNOWN_USER)
    assert refused(messages.history("alice", "nobody", 10), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"
    assert refused(messages.seen("nobody", 1), ErrorCode.UNKNOWN_USER)
