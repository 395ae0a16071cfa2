"""The broadcaster's side of turbo mode (``client.turbo_broadcast``), in process: when the
question is put, what the slave is told when turbo mode is allowed or not, when uploads stop,
and the bytes reported once a second on an injected clock."""

from __future__ import annotations

import pytest

from client.turbo_broadcast import QUESTION, REPORT_EVERY, BroadcastTurbo
from common.messages.turbo import TurboAllow, TurboBytes, TurboUpload
from common.prefs import Turbo

KEY = "k" * 43


class Slave:
    def __init__(self):
        self.told: list = []

    def send(self, message) -> None:
        self.told.append(message)


class Clock:
    def __init__(self):
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def turbo():
    """(turbo in the given mode, the slave it joined, the lines it said, the clock)."""
    made: list[BroadcastTurbo] = []

    def start(mode: Turbo, key: str | None = KEY):
        lines, slave, clock = [], Slave(), Clock()
        part = BroadcastTurbo("alice", mode, lines.append, clock=clock, host="127.0.0.1")
        made.append(part)
        part.joined(slave, key)
        return part, slave, lines, clock

    yield start
    for part in made:
        part.close()


def test_always_allows_turbo_mode_as_soon_as_the_slave_gives_a_key(turbo):
    part, slave, _, _ = turbo(Turbo.ALWAYS)
    assert slave.told == [TurboAllow(True)] and part.server.listening


def test_without_a_key_the_port_stays_shut_and_the_slave_hears_nothing(turbo):
    part, slave, _, _ = turbo(Turbo.ALWAYS, key=None)
    assert slave.told == [] and not part.server.listening


def test_ask_puts_the_question_once_at_the_first_lone_viewer(turbo):
    part, slave, lines, _ = turbo(Turbo.ASK)
    assert slave.told == [] and not part.server.listening
    part.viewers("bob", 2)
    assert lines == []
    part.viewers("bob", 1)
    assert lines == [QUESTION.format(viewer="bob")] and part.asking
    part.viewers("carol", 1)
    assert len(lines) == 1
    part.set_allowed(True)
    assert lines[-1] == "turbo mode on" and slave.told == [TurboAllow(True)]
    assert part.server.listening and not part.asking


def test_ask_without_a_key_asks_nothing(turbo):
    part, _, lines, _ = turbo(Turbo.ASK, key=None)
    part.viewers("bob", 1)
    assert lines == []


def test_turning_turbo_off_closes_the_port_and_tells_the_slave(turbo):
    part, slave, lines, _ = turbo(Turbo.ALWAYS)
    part.set_allowed(False)
    assert lines == ["turbo mode off"] and slave.told[-1] == TurboAllow(False) and not part.server.listening


def test_uploads_stop_while_a_viewer_is_peer_to_peer(turbo):
    part, _, lines, _ = turbo(Turbo.ALWAYS)
    assert part.handle(TurboUpload(False, "bob")) and not part.uploading
    assert lines[-1] == "bob gets images peer to peer (turbo)"
    assert part.handle(TurboUpload(True, "bob")) and part.uploading
    assert lines[-1] == "images go through the slave again"
    assert not part.handle(object())


def test_a_new_slave_is_uploaded_to_until_it_says_otherwise(turbo):
    part, _, _, _ = turbo(Turbo.ALWAYS)
    part.handle(TurboUpload(False, "bob"))
    part.joined(Slave(), KEY)
    assert part.uploading


def test_the_bytes_sent_peer_to_peer_are_reported_once_a_second(turbo):
    part, slave, _, clock = turbo(Turbo.ALWAYS)
    part.server.unreported_bytes = 1000
    part.tick()
    assert slave.told == [TurboAllow(True)]  # not yet a second
    clock.now += REPORT_EVERY
    part.tick()
    assert slave.told[-1] == TurboBytes(1000) and part.server.unreported_bytes == 0
    clock.now += REPORT_EVERY
    part.tick()
    assert slave.told[-1] == TurboBytes(1000)  # nothing new, nothing said
    assert len(slave.told) == 2
