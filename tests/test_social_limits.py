"""Rooms with owners, presence only between mutual friends, and the per-user flood limits
(issue 18: finding 10 and the friends, STATUS/LIVE, invites/throws/declines lows), in
process: the master's parts on the in-memory store and a scratch PostgreSQL database
migrated with master/storage/sql, including the migration that gives old rooms an owner."""

import asyncio

import psycopg2
import pytest

from common.errors import ErrorCode, RequestError
from common.messages.chat import ROOM_PAGE, MemberAction, RoomAsk, RoomMember
from common.messages.social import Presence, PresenceState
from master.node import Master, MasterConfig
from master.policy.limits import LIMITS, Flood
from master.storage import migrations
from master.storage.db.tables import DatabaseTables
from master.storage.memory_store import MemoryStore
from tests.databases import InlineDatabase, scratch_database
from tests.services import SIGNER
from tests.test_master_logic import clock_at, twisted

NOW = 1_000_000.0


@pytest.fixture
def dsn():
    with scratch_database("fctest_social", migrated=False) as dsn:
        yield dsn


@pytest.fixture
def world(dsn):
    """A master on a migrated scratch database, with users, and the events it pushed."""
    migrations.migrate(dsn)
    db = InlineDatabase(dsn)
    clock = clock_at(NOW)
    config = MasterConfig("m1", "m1:5101", "m1:5201")
    master = Master(config, MemoryStore(), DatabaseTables.on(db), SIGNER, clock)
    pushed = []

    async def push(users, event):
        pushed.extend((user, event) for user in users)

    master.events.push = push
    for name in ("alice", "bob", "carol", "mallory"):
        db.sql("INSERT INTO users (name, password_hash) VALUES (%s, 'x')", name)
    yield master, db, pushed, clock
    db.close()


def run(coro):
    async def main():
        return await twisted(coro)

    return asyncio.run(main())


def refused(coro) -> RequestError:
    with pytest.raises(RequestError) as caught:
        run(coro)
    return caught.value


def test_a_stranger_joining_a_room_only_asks_its_owner_who_admits_or_removes(world):
    master, _, pushed, _ = world
    chat = master.chat
    assert "which you made and own" in run(chat.change_room("alice", "#cams", True))
    answer = run(chat.change_room("mallory", "#cams", True))
    assert answer.startswith("asked alice, the owner of #cams")
    assert run(master.rooms.members("#cams")) == {"alice"}, "a join alone grants no membership"
    assert pushed == [("alice", RoomAsk("mallory", "#cams"))]
    row = run(chat.rooms("alice", None, ROOM_PAGE)).rooms[0]
    assert row.owner == "alice" and row.asking == ("mallory",)
    assert run(chat.rooms("mallory", None, ROOM_PAGE)).rooms[0].asking == (), "only the owner sees who asks"
    assert refused(chat.decide_member("mallory", RoomMember("t", "#cams", "mallory", MemberAction.INVITE))).code == (
        ErrorCode.ACCESS_REFUSED
    )
    assert run(chat.decide_member("alice", RoomMember("t", "#cams", "mallory", MemberAction.REMOVE))).startswith(
        "turned down"
    )
    assert run(master.rooms.members("#cams")) == {"alice"}
    # An invited user's join succeeds at once; a request the owner accepts admits at once.
    run(chat.decide_member("alice", RoomMember("t", "#cams", "bob", MemberAction.INVITE)))
    assert run(chat.change_room("bob", "#cams", True)) == "you are in #cams"
    run(chat.change_room("carol", "#cams", True))
    assert run(chat.decide_member("alice", RoomMember("t", "#cams", "carol", MemberAction.ACCEPT))) == (
        "carol is in #cams"
    )
    assert run(master.rooms.members("#cams")) == {"alice", "bob", "carol"}
    assert run(chat.decide_member("alice", RoomMember("t", "#cams", "bob", MemberAction.REMOVE))) == (
        "removed bob from #cams"
    )
    assert run(master.rooms.members("#cams")) == {"alice", "carol"}


def test_room_creation_is_limited_per_user_and_the_list_pages(world):
    master, _, _, clock = world
    burst = LIMITS[Flood.ROOM_CREATE].burst
    for i in range(burst):
        run(master.chat.change_room("mallory", f"#spam-{i:03d}", True))
    error = refused(master.chat.change_room("mallory", "#spam-more", True))
    assert error.code == ErrorCode.RATE_LIMITED and error.message.startswith("too many new rooms; try again in")
    run(master.chat.change_room("alice", "#mine", True))  # per user: others are not affected
    clock.advance(1 / LIMITS[Flood.ROOM_CREATE].rate)
    run(master.chat.change_room("mallory", "#spam-later", True))
    first = run(master.chat.rooms("bob", None, 4))
    assert [r.name for r in first.rooms] == ["#mine", "#spam-000", "#spam-001", "#spam-002"]
    assert first.next == "#spam-002"
    names = [r.name for r in first.rooms]
    page = first
    for _ in range(10):
        if page.next is None:
            break
        page = run(master.chat.rooms("bob", page.next, 4))
        names += [r.name for r in page.rooms]
    assert names == sorted(["#mine", "#spam-later"] + [f"#spam-{i:03d}" for i in range(burst)]) and page.next is None


def test_friends_see_presence_only_once_both_added_each_other(world):
    master, _, pushed, _ = world
    social = master.social
    assert run(social.change_friend("mallory", "alice", True)).endswith("once they add you too")
    assert [(r.user, r.presence) for r in run(social.friends("mallory")).friends] == [("alice", PresenceState.PENDING)]
    assert run(master.relations.mutual("alice")) == [], "alice's presence goes to no one"
    assert pushed == []
    assert run(social.change_friend("alice", "mallory", True)) == "mallory is your friend"
    assert run(social.friends("mallory")).friends[0].presence == PresenceState.OFFLINE
    assert ("alice", Presence("mallory", PresenceState.OFFLINE)) in pushed
    assert ("mallory", Presence("alice", PresenceState.OFFLINE)) in pushed


def test_names_of_users_who_do_not_exist_are_limited_and_then_every_lookup_is_refused(world):
    master, _, _, clock = world
    social = master.social
    for i in range(LIMITS[Flood.UNKNOWN_NAME].burst):
        error = refused(master.floods.naming("mallory", lambda i=i: social.change_friend("mallory", f"ghost{i}", True)))
        assert error.code == ErrorCode.UNKNOWN_USER
    # Spent: a name that exists is refused just like one that does not, so nothing leaks.
    for name in ("alice", "ghost-x"):
        error = refused(master.floods.naming("mallory", lambda n=name: social.change_friend("mallory", n, True)))
        assert error.code == ErrorCode.RATE_LIMITED
    assert run(master.floods.naming("bob", lambda: social.change_friend("bob", "alice", True)))
    clock.advance(1 / LIMITS[Flood.UNKNOWN_NAME].rate)
    assert run(master.floods.naming("mallory", lambda: social.change_friend("mallory", "alice", True)))


@pytest.mark.parametrize(
    "flood", [Flood.STATUS_USER, Flood.LIVE_USER, Flood.INVITE_USER, Flood.THROW_USER, Flood.DECLINE_USER]
)
def test_per_user_limits_hold_across_connections_and_masters(world, flood):
    """The count is in the store, so a second master (another connection) shares it."""
    master, db, _, _ = world
    other = Master(MasterConfig("m2", "m2:5101", "m2:5201"), master.store, DatabaseTables.on(db), SIGNER, master.reactor)
    for i in range(LIMITS[flood].burst):
        run((master if i % 2 else other).floods.check(flood, "mallory"))
    assert refused(other.floods.check(flood, "mallory")).code == ErrorCode.RATE_LIMITED
    run(master.floods.check(flood, "alice"))


def test_the_migration_gives_each_existing_room_its_first_member_as_owner(dsn):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ DEFAULT now())")
        for path in migrations.pending(set()):
            if path.stem < "0004_room_owners":
                cur.execute(path.read_text())
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
        cur.execute("INSERT INTO users (name, password_hash) VALUES ('ann', 'x'), ('ben', 'x')")
        cur.execute("INSERT INTO rooms (name, created_at) VALUES ('#old', 1), ('#empty', 1)")
        cur.execute(
            "INSERT INTO room_members (room_id, user_id, joined_at) SELECT r.id, u.id, CASE u.name WHEN 'ben' THEN 5"
            " ELSE 9 END FROM rooms r, users u WHERE r.name = '#old'"
        )
    conn.close()
    assert "0004_room_owners" in migrations.migrate(dsn)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT r.name, u.name FROM rooms r JOIN users u ON u.id = r.owner_id")
        assert cur.fetchall() == [("#old", "ben")]
    conn.close()
