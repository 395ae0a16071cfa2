"""Short seeded fuzz runs against every port, in-process (``tests/fuzzing.py``,
``tests/fuzzing_web.py``): the client ports (the master's on a real PostgreSQL database
too), the masters' port for slaves, both web fronts (HTTP and WebSocket) and the turbo peer
server: no crash, only clear refusals. ``bench/fuzz.py`` runs 10^6."""

import pytest

from common.errors import RequestError
from common.messages.accounts import StatusRequest
from common.messages.schema import json_object
from tests.databases import InlineDatabase, scratch_database
from tests.fuzzing import USERS, Fuzzer
from tests.fuzzing_web import HttpFuzzer, PeerFuzzer

MESSAGES = 25_000  # per protocol: about 2 s each


@pytest.mark.parametrize("target", ["master", "slave", "slave-port"])
def test_random_and_mutated_messages_never_crash(target):
    fuzzer = Fuzzer(target, seed=13)
    fuzzer.run(MESSAGES)
    assert fuzzer.crashes == []


def test_what_reaches_the_database_never_crashes():
    """The master's handlers on a real, migrated PostgreSQL database with the fuzzer's users:
    text with a NUL, lone surrogates, odd names and limits all end as clear refusals."""
    with scratch_database("fctest_fuzz") as dsn:
        database = InlineDatabase(dsn)
        try:
            for name in USERS:
                database.sql("INSERT INTO users (name, password_hash) VALUES (%s, 'x')", name)
            fuzzer = Fuzzer("master", seed=17, database=database)
            fuzzer.run(MESSAGES // 5)
        finally:
            database.close()
    assert fuzzer.crashes == []


@pytest.mark.parametrize("target", ["web", "slave-web"])
def test_http_and_websocket_requests_never_crash(target):
    fuzzer = HttpFuzzer(target, seed=19)
    fuzzer.run(MESSAGES // 5)
    assert fuzzer.crashes == []


def test_the_turbo_peer_server_never_crashes():
    fuzzer = PeerFuzzer(seed=23)
    fuzzer.run(200)
    assert fuzzer.crashes == [] and not fuzzer.server.peers


def test_a_lone_surrogate_is_a_clear_refusal_not_a_crash_deep_in_a_handler():
    body = b'{"token": "\\udcff"}'
    assert json_object(body) == {"token": "\udcff"}
    with pytest.raises(RequestError, match="not valid Unicode text"):
        StatusRequest.from_fields(json_object(body))
