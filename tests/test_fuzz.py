"""A short seeded fuzz run against the master's and the slave's client protocols, in-process
(``tests/fuzzing.py``): no crash, only clear refusals. ``bench/fuzz.py`` runs 10^6."""

import pytest

from common.errors import RequestError
from common.messages.accounts import StatusRequest
from common.messages.schema import json_object
from tests.fuzzing import Fuzzer

MESSAGES = 25_000  # per protocol: about 2 s each


@pytest.mark.parametrize("target", ["master", "slave"])
def test_random_and_mutated_messages_never_crash(target):
    fuzzer = Fuzzer(target, seed=13)
    fuzzer.run(MESSAGES)
    assert fuzzer.crashes == []


def test_a_lone_surrogate_is_a_clear_refusal_not_a_crash_deep_in_a_handler():
    body = b'{"token": "\\udcff"}'
    assert json_object(body) == {"token": "\udcff"}
    with pytest.raises(RequestError, match="not valid Unicode text"):
        StatusRequest.from_fields(json_object(body))
