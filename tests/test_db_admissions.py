"""What decides admissions besides the rules (U3-U7): standings, view requests and their
answers, invitations, consent for one broadcast and throws. The same suite for
``master.storage.db.admissions`` on PostgreSQL and its in-memory fake."""

from common.errors import ErrorCode
from common.messages.chat import MemberAction
from common.messages.social import AccessList
from common.prefs import AccessKind
from master.policy.access import Standing
from master.storage.db.admissions import ViewRequestRow
from tests.db_tables import refused, register, run, scratch, tables  # noqa: F401 (fixtures)

NOW = 1_000_000.0
TTL = 60.0


def standing(tables, viewer="bob", broadcaster="alice", session="sess-1") -> Standing:
    return run(tables.admissions.standings(viewer, {broadcaster: session}))[broadcaster]


def test_a_stranger_has_no_standing_and_unknown_names_are_left_out(tables):
    register(tables, "alice", "bob")
    assert run(tables.admissions.standings("bob", {"alice": "s", "nobody": "s"})) == {"alice": Standing()}
    assert run(tables.admissions.standings("nobody", {"alice": "s"})) == {}
    assert run(tables.admissions.standings("bob", {})) == {}
    assert standing(tables, "alice", "alice") == Standing(self_view=True)


def test_a_standing_has_the_broadcasters_rule_friends_and_lists(tables):
    register(tables, "alice", "bob", "carol")
    run(tables.preferences.set("alice", "access", "friends"))
    run(tables.relations.change_friend("alice", "bob", True))
    run(tables.relations.change_friend("carol", "alice", True))
    run(tables.relations.change_list("alice", "carol", AccessList.ALLOW, True))
    run(tables.relations.change_list("alice", "carol", AccessList.IGNORE, True))
    found = run(tables.admissions.standings("bob", {"alice": "s", "carol": "s"}))
    assert found == {"alice": Standing(AccessKind.FRIENDS, friend=True), "carol": Standing()}
    assert standing(tables, "carol") == Standing(AccessKind.FRIENDS, allowed=True, ignored=True)


def test_a_room_rule_admits_the_rooms_members(tables):
    register(tables, "alice", "bob", "carol")
    run(tables.rooms.join("alice", "#cams", NOW))
    run(tables.rooms.decide("alice", "bob", "#cams", MemberAction.INVITE, NOW))
    run(tables.rooms.join("bob", "#cams", NOW))
    run(tables.preferences.set("alice", "access", "room:#cams"))
    assert standing(tables, "bob") == Standing(AccessKind.ROOM, "#cams", room_member=True)
    assert standing(tables, "carol") == Standing(AccessKind.ROOM, "#cams")
    run(tables.preferences.set("alice", "access", "room:#nowhere"))
    assert standing(tables, "bob") == Standing(AccessKind.ROOM, "#nowhere")


def test_a_rule_no_longer_valid_reads_as_everyone(tables):
    register(tables, "alice", "bob")
    for rule in ("nonsense", "room:cams", 5, None, ["ask"]):
        run(tables.preferences.set("alice", "access", rule))
        assert standing(tables) == Standing(), rule


def test_a_request_is_kept_until_it_expires_or_the_broadcast_changes(tables):
    register(tables, "alice", "bob")
    ask = tables.admissions.ask
    first = ViewRequestRow("sess-1", NOW, NOW + TTL, None)
    assert run(ask("bob", "alice", "sess-1", NOW, TTL)) == (first, True)
    assert run(ask("bob", "alice", "sess-1", NOW + 10, TTL)) == (first, False)
    renewed = ViewRequestRow("sess-1", NOW + TTL, NOW + 2 * TTL, None)
    assert run(ask("bob", "alice", "sess-1", NOW + TTL, TTL)) == (renewed, True), "expired"
    changed = ViewRequestRow("sess-2", NOW + TTL + 1, NOW + TTL + 6, None)
    assert run(ask("bob", "alice", "sess-2", NOW + TTL + 1, 5)) == (changed, True), "another broadcast"
    assert refused(ask("bob", "nobody", "s", NOW, TTL), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"


def test_an_accepted_request_is_consent_for_that_broadcast_only(tables):
    register(tables, "alice", "bob")
    run(tables.admissions.ask("bob", "alice", "sess-1", NOW, TTL))
    assert run(tables.admissions.answer("alice", "bob", True, NOW + 5)) is None
    assert standing(tables, session="sess-1") == Standing(granted_at=NOW + 5)
    assert standing(tables, session="sess-2") == Standing()
    again = run(tables.admissions.ask("bob", "alice", "sess-1", NOW + 6, TTL))
    assert again == (ViewRequestRow("sess-1", NOW, NOW + TTL, "accepted"), False), "the answered request"
    assert refused(tables.admissions.answer("alice", "bob", False, NOW + 7), ErrorCode.NO_REQUEST) == (
        "bob has not asked to watch you"
    )


def test_a_denied_request_grants_nothing(tables):
    register(tables, "alice", "bob")
    run(tables.admissions.ask("bob", "alice", "sess-1", NOW, TTL))
    run(tables.admissions.answer("alice", "bob", False, NOW + 5))
    assert standing(tables) == Standing()
    assert run(tables.admissions.ask("bob", "alice", "sess-1", NOW + 6, TTL))[0].answer == "denied"


def test_only_an_open_request_can_be_answered(tables):
    register(tables, "alice", "bob", "carol")
    answer = tables.admissions.answer
    assert refused(answer("alice", "bob", True, NOW), ErrorCode.NO_REQUEST) == "bob has not asked to watch you"
    run(tables.admissions.ask("bob", "alice", "sess-1", NOW, TTL))
    assert refused(answer("alice", "bob", True, NOW + TTL), ErrorCode.REQUEST_EXPIRED) == (
        "bob's request to watch you has expired"
    )
    assert refused(answer("carol", "bob", True, NOW), ErrorCode.NO_REQUEST), "asked someone else"
    assert refused(answer("nobody", "ghost", True, NOW), ErrorCode.UNKNOWN_USER) == "no such user 'ghost'"


def test_open_requests_are_the_unanswered_unexpired_ones_oldest_first(tables):
    register(tables, "alice", "bob", "carol", "dave", "erin")
    for offset, viewer in enumerate(("dave", "bob", "carol", "erin")):
        run(tables.admissions.ask(viewer, "alice", "sess-1", NOW + offset, TTL))
    run(tables.admissions.answer("alice", "carol", False, NOW + 10))
    assert run(tables.admissions.open_asks("alice", NOW + 10)) == [
        ("dave", NOW + TTL),
        ("bob", NOW + 1 + TTL),
        ("erin", NOW + 3 + TTL),
    ]
    assert run(tables.admissions.open_asks("alice", NOW + 1 + TTL)) == [("erin", NOW + 3 + TTL)]
    assert run(tables.admissions.open_asks("bob", NOW)) == []
    assert run(tables.admissions.open_asks("nobody", NOW)) == []


def test_invitations_are_listed_oldest_first_and_declined_once(tables):
    register(tables, "alice", "bob", "carol")
    admissions = tables.admissions
    assert run(admissions.invite("carol", "bob", NOW)) is None
    run(admissions.invite("alice", "bob", NOW + 1))
    assert run(admissions.invitations("bob")) == ["carol", "alice"]
    run(admissions.invite("carol", "bob", NOW + 2))
    assert run(admissions.invitations("bob")) == ["alice", "carol"], "inviting again renews the invitation"
    assert standing(tables) == Standing(invited_at=NOW + 1)
    assert run(admissions.decline("bob", "alice")) is None
    assert refused(admissions.decline("bob", "alice"), ErrorCode.NO_INVITATION) == "alice has not invited you"
    assert run(admissions.invitations("bob")) == ["carol"]
    assert run(admissions.invitations("nobody")) == []


def test_an_invitation_refuses_oneself_and_unknown_users(tables):
    register(tables, "alice")
    invite = tables.admissions.invite
    assert refused(invite("alice", "alice", NOW), ErrorCode.BAD_USER) == "you cannot invite yourself"
    assert refused(invite("alice", "nobody", NOW), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"
    assert refused(tables.admissions.decline("nobody", "alice"), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"


def test_a_used_invitation_becomes_consent_for_the_broadcast(tables):
    register(tables, "alice", "bob")
    run(tables.admissions.invite("alice", "bob", NOW))
    assert run(tables.admissions.use_invitation("alice", "bob", "sess-1", NOW + 3)) is None
    assert run(tables.admissions.invitations("bob")) == []
    assert standing(tables) == Standing(granted_at=NOW + 3)
    run(tables.admissions.use_invitation("alice", "bob", "sess-2", NOW + 4))
    assert standing(tables, session="sess-2") == Standing(granted_at=NOW + 4), "consent moves to the new broadcast"
    assert refused(tables.admissions.use_invitation("alice", "nobody", "s", NOW), ErrorCode.UNKNOWN_USER)


def test_a_throw_withdraws_consent_invitations_and_requests(tables):
    register(tables, "alice", "bob")
    admissions = tables.admissions
    run(admissions.ask("bob", "alice", "sess-1", NOW, TTL))
    run(admissions.answer("alice", "bob", True, NOW + 1))
    run(admissions.invite("alice", "bob", NOW + 2))
    run(admissions.ask("alice", "bob", "sess-9", NOW, TTL))
    assert run(admissions.throw("alice", "bob", NOW + 3, NOW + 63)) is None
    assert standing(tables) == Standing(thrown_at=NOW + 3, thrown_until=NOW + 63)
    assert run(admissions.invitations("bob")) == []
    assert run(admissions.ask("bob", "alice", "sess-1", NOW + 4, TTL))[1] is True, "the old request is gone"
    assert run(admissions.open_asks("bob", NOW + 4)) == [("alice", NOW + TTL)], "the other way round stays"
    run(admissions.throw("alice", "bob", NOW + 5, NOW + 6))
    assert standing(tables) == Standing(thrown_at=NOW + 5, thrown_until=NOW + 6)
    assert refused(admissions.throw("alice", "nobody", NOW, NOW), ErrorCode.UNKNOWN_USER)
