"""Users, passwords, service levels and token epochs (U1, U2), and a lost database: the
same suite for ``master.storage.db.users.UserStore`` on PostgreSQL and its in-memory fake."""

from argon2 import PasswordHasher

from common.errors import ErrorCode
from master.storage.db.memory_users import cheap_hasher
from tests.db_tables import refused, register, run, scratch, tables  # noqa: F401 (fixtures)

OTHER_HASHER = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)


def test_a_registered_user_logs_in_with_their_password_only(tables):
    users = tables.users
    assert run(users.register("alice", "s3cret")) is None
    assert run(users.authenticate("alice", "s3cret")) == ("free", 0)
    assert refused(users.authenticate("alice", "wrong"), ErrorCode.WRONG_PASSWORD) == "wrong user name or password"
    assert refused(users.authenticate("alice", ""), ErrorCode.WRONG_PASSWORD) == "wrong user name or password"


def test_an_unknown_user_is_refused_like_a_wrong_password(tables):
    assert refused(tables.users.authenticate("nobody", "x"), ErrorCode.WRONG_PASSWORD) == "wrong user name or password"


def test_a_name_is_registered_once(tables):
    run(tables.users.register("alice", "one"))
    assert refused(tables.users.register("alice", "two"), ErrorCode.USER_EXISTS) == "user 'alice' already exists"
    assert run(tables.users.authenticate("alice", "one")) == ("free", 0), "the first password stays"
    run(tables.users.register("Alice", "two"))
    assert run(tables.users.authenticate("Alice", "two")) == ("free", 0), "names are case-sensitive"


def test_only_an_argon2_hash_of_the_password_is_kept(tables):
    run(tables.users.register("alice", "s3cret"))
    stored = tables.password_hash("alice")
    assert stored.startswith("$argon2id$") and "s3cret" not in stored
    assert cheap_hasher().verify(stored, "s3cret")


def test_a_hash_that_is_not_argon2_refuses_every_password(tables):
    run(tables.users.register("alice", "s3cret"))
    tables.update_user("alice", "password_hash", "x")
    assert refused(tables.users.authenticate("alice", "s3cret"), ErrorCode.WRONG_PASSWORD)
    assert refused(tables.users.authenticate("alice", "x"), ErrorCode.WRONG_PASSWORD)


def test_a_login_rehashes_a_password_hashed_with_other_parameters(tables):
    run(tables.users.register("alice", "s3cret"))
    first = tables.password_hash("alice")
    assert run(tables.users_with(OTHER_HASHER).authenticate("alice", "s3cret")) == ("free", 0)
    second = tables.password_hash("alice")
    assert second != first and not OTHER_HASHER.check_needs_rehash(second)
    run(tables.users_with(OTHER_HASHER).authenticate("alice", "s3cret"))
    assert tables.password_hash("alice") == second, "a current hash is left alone"
    assert refused(tables.users_with(OTHER_HASHER).authenticate("alice", "wrong"), ErrorCode.WRONG_PASSWORD)
    assert run(tables.users.authenticate("alice", "s3cret")) == ("free", 0)


def test_a_login_says_the_users_service_level(tables):
    register(tables, "alice")
    tables.update_user("alice", "service_level", "premium")
    assert run(tables.users.authenticate("alice", "password-alice")) == ("premium", 0)


def test_ending_tokens_moves_the_epoch_on(tables):
    users = tables.users
    register(tables, "alice", "bob")
    assert run(users.token_epoch("alice")) == 0
    assert run(users.end_tokens("alice")) == 1
    assert run(users.end_tokens("alice")) == 2
    assert run(users.token_epoch("alice")) == 2 and run(users.token_epoch("bob")) == 0
    assert run(users.authenticate("alice", "password-alice")) == ("free", 2)


def test_an_unknown_user_has_no_epoch_to_end(tables):
    assert run(tables.users.token_epoch("nobody")) is None
    assert run(tables.users.end_tokens("nobody")) is None


def test_a_lost_database_is_a_clear_refusal_and_it_comes_back(tables):
    register(tables, "alice", "bob")
    calls = [
        lambda: tables.users.register("carol", "pw"),
        lambda: tables.users.authenticate("alice", "password-alice"),
        lambda: tables.users.token_epoch("alice"),
        lambda: tables.relations.friends("alice"),
        lambda: tables.preferences.of("alice"),
        lambda: tables.admissions.invitations("alice"),
        lambda: tables.messages.history("alice", None, 10),
        lambda: tables.rooms.exists("#cams"),
    ]
    with tables.outage():
        for call in calls:
            assert refused(call(), ErrorCode.UNAVAILABLE) == "the user database is unavailable; try again shortly"
    assert run(tables.users.authenticate("alice", "password-alice")) == ("free", 0)
    assert refused(tables.users.authenticate("carol", "pw"), ErrorCode.WRONG_PASSWORD), "nothing was stored"
