"""Chat rooms, their owners and members (U11): the same suite for ``master.storage.db.rooms`` on
PostgreSQL and its in-memory fake."""

from common.errors import ErrorCode
from common.messages.chat import ASKING_SHOWN, MemberAction, RoomRow
from master.storage.db.rooms import MAX_OWNED_ROOMS, Joined
from tests.db_tables import refused, register, run, scratch, tables  # noqa: F401 (fixtures)

NOW = 1_000_000.0
INVITE, ACCEPT, REMOVE = MemberAction.INVITE, MemberAction.ACCEPT, MemberAction.REMOVE


def page(tables, user, after=None, limit=50) -> list[RoomRow]:
    return run(tables.rooms.page(user, after, limit))


def test_the_first_join_makes_the_room_its_maker_owns(tables):
    register(tables, "alice", "bob")
    rooms = tables.rooms
    assert run(rooms.exists("#cams")) is False
    assert run(rooms.join("alice", "#cams", NOW)) == (Joined.CREATED, "alice")
    assert run(rooms.exists("#cams")) is True
    assert run(rooms.members("#cams")) == {"alice"}
    assert run(rooms.join("alice", "#cams", NOW + 1)) == (Joined.ALREADY, "alice")
    assert page(tables, "alice") == [RoomRow("#cams", 1, True, "alice")]
    assert page(tables, "bob") == [RoomRow("#cams", 1, False, "alice")]


def test_a_strangers_join_only_asks_the_owner(tables):
    register(tables, "alice", "bob", "carol")
    run(tables.rooms.join("alice", "#cams", NOW))
    assert run(tables.rooms.join("carol", "#cams", NOW + 2)) == (Joined.ASKED, "alice")
    assert run(tables.rooms.join("bob", "#cams", NOW + 3)) == (Joined.ASKED, "alice")
    assert run(tables.rooms.members("#cams")) == {"alice"}
    assert page(tables, "alice") == [RoomRow("#cams", 1, True, "alice", asking=("carol", "bob"))]
    assert page(tables, "bob") == [RoomRow("#cams", 1, False, "alice", asked=True)], "only the owner sees who asks"
    assert run(tables.rooms.join("carol", "#cams", NOW + 4)) == (Joined.ASKED, "alice")
    assert page(tables, "alice")[0].asking == ("bob", "carol"), "asking again goes to the back"


def test_the_owner_admits_a_user_who_asked(tables):
    register(tables, "alice", "bob", "carol")
    run(tables.rooms.join("alice", "#cams", NOW))
    run(tables.rooms.join("bob", "#cams", NOW))
    run(tables.rooms.join("carol", "#cams", NOW))
    assert run(tables.rooms.decide("alice", "bob", "#cams", ACCEPT, NOW)) == "bob is in #cams"
    assert run(tables.rooms.decide("alice", "carol", "#cams", INVITE, NOW)) == "carol is in #cams"
    assert run(tables.rooms.members("#cams")) == {"alice", "bob", "carol"}
    assert page(tables, "alice") == [RoomRow("#cams", 3, True, "alice")]
    assert run(tables.rooms.join("bob", "#cams", NOW)) == (Joined.ALREADY, "alice")
    assert run(tables.rooms.decide("alice", "bob", "#cams", INVITE, NOW)) == "bob is in #cams already"
    assert refused(tables.rooms.decide("alice", "bob", "#cams", ACCEPT, NOW), ErrorCode.NO_REQUEST) == (
        "bob has not asked to join #cams"
    )


def test_an_invited_user_joins_at_once(tables):
    register(tables, "alice", "bob")
    run(tables.rooms.join("alice", "#cams", NOW))
    assert run(tables.rooms.decide("alice", "bob", "#cams", INVITE, NOW)) == (
        "invited bob to #cams: their framecast join #cams lets them in"
    )
    assert run(tables.rooms.decide("alice", "bob", "#cams", INVITE, NOW + 1)).startswith("invited bob")
    assert page(tables, "bob") == [RoomRow("#cams", 1, False, "alice", invited=True)]
    assert run(tables.rooms.members("#cams")) == {"alice"}
    assert run(tables.rooms.join("bob", "#cams", NOW + 2)) == (Joined.JOINED, "alice")
    assert page(tables, "bob") == [RoomRow("#cams", 2, True, "alice")]


def test_removing_takes_a_member_out_turns_a_request_down_or_withdraws_an_invitation(tables):
    register(tables, "alice", "bob", "carol", "dave", "erin")
    decide = tables.rooms.decide
    run(tables.rooms.join("alice", "#cams", NOW))
    run(decide("alice", "bob", "#cams", INVITE, NOW))
    run(tables.rooms.join("bob", "#cams", NOW))
    run(tables.rooms.join("carol", "#cams", NOW))
    run(decide("alice", "dave", "#cams", INVITE, NOW))
    assert run(decide("alice", "bob", "#cams", REMOVE, NOW)) == "removed bob from #cams"
    assert run(decide("alice", "carol", "#cams", REMOVE, NOW)) == "turned down carol's request to join #cams"
    assert run(decide("alice", "dave", "#cams", REMOVE, NOW)) == "withdrew your invitation of dave to #cams"
    assert refused(decide("alice", "erin", "#cams", REMOVE, NOW), ErrorCode.NOT_A_MEMBER) == "erin is not in #cams"
    assert run(tables.rooms.members("#cams")) == {"alice"}
    assert page(tables, "alice") == [RoomRow("#cams", 1, True, "alice")]
    assert run(tables.rooms.join("dave", "#cams", NOW)) == (Joined.ASKED, "alice"), "no invitation left"


def test_only_the_owner_decides_and_not_about_themselves(tables):
    register(tables, "alice", "bob")
    decide = tables.rooms.decide
    run(tables.rooms.join("alice", "#cams", NOW))
    assert refused(decide("bob", "alice", "#cams", REMOVE, NOW), ErrorCode.ACCESS_REFUSED) == (
        "only the owner of #cams (alice) decides who is in it"
    )
    assert refused(decide("alice", "alice", "#cams", REMOVE, NOW), ErrorCode.BAD_USER) == (
        "you own #cams: framecast join/leave #cams for yourself"
    )
    assert refused(decide("alice", "bob", "#none", INVITE, NOW), ErrorCode.UNKNOWN_ROOM) == "there is no room #none"
    assert refused(decide("alice", "alice", "#none", INVITE, NOW), ErrorCode.UNKNOWN_ROOM)
    assert refused(decide("alice", "nobody", "#cams", INVITE, NOW), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"


def test_leaving_and_the_owner_who_left(tables):
    register(tables, "alice", "bob")
    rooms = tables.rooms
    run(rooms.join("alice", "#cams", NOW))
    run(rooms.decide("alice", "bob", "#cams", INVITE, NOW))
    run(rooms.join("bob", "#cams", NOW))
    assert run(rooms.leave("bob", "#cams")) is None
    assert refused(rooms.leave("bob", "#cams"), ErrorCode.NOT_A_MEMBER) == "you are not in #cams"
    assert refused(rooms.leave("bob", "#none"), ErrorCode.NOT_A_MEMBER) == "you are not in #none"
    run(rooms.leave("alice", "#cams"))
    assert run(rooms.members("#cams")) == set() and run(rooms.exists("#cams")) is True
    assert page(tables, "alice") == [RoomRow("#cams", 0, False, "alice")], "still the owner"
    assert run(rooms.decide("alice", "bob", "#cams", INVITE, NOW)).startswith("invited bob")
    assert run(rooms.join("alice", "#cams", NOW)) == (Joined.JOINED, "alice")
    assert run(rooms.join("bob", "#cams", NOW)) == (Joined.JOINED, "alice")


def test_rooms_are_paged_by_name(tables):
    register(tables, "alice")
    for room in ("#b", "#a", "#c", "#B", "#a.b"):
        run(tables.rooms.join("alice", room, NOW))
    names = [row.name for row in page(tables, "alice")]
    assert names == ["#B", "#a", "#a.b", "#b", "#c"], "code-point order (the C collation)"
    assert [row.name for row in page(tables, "alice", "#a", 2)] == ["#a.b", "#b"]
    assert page(tables, "alice", "#c") == []
    assert page(tables, "alice", None, 0) == []


def test_an_owner_sees_the_first_requests_only(tables):
    askers = [f"user{n:03}" for n in range(ASKING_SHOWN + 1)]
    register(tables, "alice", *askers)
    run(tables.rooms.join("alice", "#cams", NOW))
    for n, name in enumerate(reversed(askers)):
        run(tables.rooms.join(name, "#cams", NOW + n))
    assert page(tables, "alice")[0].asking == tuple(reversed(askers))[:ASKING_SHOWN]


def test_one_user_owns_a_bounded_number_of_rooms(tables):
    register(tables, "alice", "bob")
    for n in range(MAX_OWNED_ROOMS):
        run(tables.rooms.join("alice", f"#r{n}", NOW))
    assert refused(tables.rooms.join("alice", "#more", NOW), ErrorCode.RATE_LIMITED) == (
        f"you own {MAX_OWNED_ROOMS} rooms already, the most one may own"
    )
    assert run(tables.rooms.join("alice", "#r0", NOW)) == (Joined.ALREADY, "alice"), "joining an own room is no new one"
    run(tables.rooms.leave("alice", "#r0"))
    assert refused(tables.rooms.join("alice", "#more", NOW), ErrorCode.RATE_LIMITED), "leaving does not give it away"
    assert run(tables.rooms.join("bob", "#more", NOW)) == (Joined.CREATED, "bob")


def test_rooms_need_a_known_user(tables):
    assert refused(tables.rooms.join("nobody", "#cams", NOW), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"
    assert refused(tables.rooms.page("nobody", None, 10), ErrorCode.UNKNOWN_USER)
    assert refused(tables.rooms.leave("nobody", "#cams"), ErrorCode.UNKNOWN_USER)
    assert run(tables.rooms.members("#none")) == set()
    assert run(tables.rooms.exists("#none")) is False
