"""Each user's stored settings (U8): the same suite for ``master.storage.db.preferences`` on
PostgreSQL and its in-memory fake."""

from common.errors import ErrorCode
from common.prefs import with_defaults
from tests.db_tables import refused, register, run, scratch, tables  # noqa: F401 (fixtures)

DEFAULTS = with_defaults({})


def test_a_user_without_settings_and_an_unknown_user_get_the_defaults(tables):
    register(tables, "alice")
    assert run(tables.preferences.of("alice")) == DEFAULTS
    assert run(tables.preferences.of("nobody")) == DEFAULTS


def test_a_setting_is_kept_replaced_and_kept_apart_from_other_users(tables):
    register(tables, "alice", "bob")
    prefs = tables.preferences
    assert run(prefs.set("alice", "quality", 3)) is None
    run(prefs.set("alice", "access", "friends"))
    assert run(prefs.of("alice")) == {**DEFAULTS, "quality": 3, "access": "friends"}
    run(prefs.set("alice", "quality", 9))
    assert run(prefs.of("alice"))["quality"] == 9
    assert run(prefs.of("bob")) == DEFAULTS


def test_a_stored_value_no_longer_valid_reads_as_the_default(tables):
    register(tables, "alice")
    run(tables.preferences.set("alice", "quality", "loud"))
    run(tables.preferences.set("alice", "size", [640, 480]))
    run(tables.preferences.set("alice", "colour", "blue"))
    assert run(tables.preferences.of("alice")) == DEFAULTS


def test_an_unknown_user_cannot_store_a_setting(tables):
    assert refused(tables.preferences.set("nobody", "quality", 3), ErrorCode.UNKNOWN_USER) == "no such user 'nobody'"
