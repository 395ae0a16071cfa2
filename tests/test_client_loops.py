"""The broadcaster's and the viewer's loops (``client.broadcaster``, ``client.viewer``) run in
process against scripted slaves: no sockets, no processes, and a clock that moves only when
the loop waits. What is checked is the order of what reaches each slave."""

from __future__ import annotations

import collections
from typing import Callable

import pytest

import client.broadcaster
import client.viewer
from client.broadcaster import Broadcaster
from client.errors import ConnectionLost
from client.frames import Captured
from client.session import SlaveSession, connect_with_retry
from client.view_state import Thrown
from client.viewer import Viewer
from common.messages import parse
from common.messages.accounts import Redirect
from common.messages.admission import Removed
from common.messages.streaming import (
    Accepted,
    Ack,
    BroadcastEnded,
    BroadcastMoved,
    BroadcastPause,
    BroadcastResume,
    BroadcastStop,
    ImageFrame,
    Migrate,
    Move,
    Reconnect,
    ViewerPause,
    ViewerResume,
)
from common.protocol import Codec, Decoder, FrameInfo, encode_frame


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Slave:
    """A scripted slave connection: ``answer`` says what it replies to each message."""

    def __init__(self, name: str, clock: Clock, log: list, answer: Callable[[object], list] = lambda m: []):
        self.name, self.clock, self.log, self.answer = name, clock, log, answer
        self.inbox: collections.deque = collections.deque()
        self.closed = False
        self.sock = None

    def send(self, message) -> None:
        self.send_bytes(message.encode())

    def send_bytes(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionLost(f"{self.name} closed")
        for raw in Decoder().feed(data):
            message = parse(raw)
            self.log.append((self.name, message.seq if isinstance(message, (ImageFrame, Ack)) else type(message)))
            self.inbox.extend(self.answer(message))

    def recv(self, timeout: float | None):
        if self.inbox:
            message = self.inbox.popleft()
            if isinstance(message, Exception):
                raise message
            return message
        self.clock.sleep(timeout or 0.0)
        return None

    def pending(self) -> bool:
        return bool(self.inbox)

    def silent_for(self) -> float:
        return 0.0

    def close(self) -> None:
        self.closed = True
        self.log.append((self.name, "closed"))


class Masters:
    def __init__(self, slaves: list[Slave]):
        self.slaves = collections.deque(slaves)
        self.asked: list[dict] = []

    def attach(self, token: str) -> None:
        pass

    def poll(self, timeout: float = 0.0) -> list:
        return []

    def local_host(self) -> str:
        return "127.0.0.1"

    def broadcast_redirect(self, token, session, move_from=None, lost=None, turbo=None) -> Redirect:
        self.asked.append({"move_from": move_from, "lost": lost})
        return Redirect(f"{self.slaves[0].name}:5000", self.slaves[0].name, "ticket")

    def view_redirect(self, token, target, speed_kbps=None, link=None) -> Redirect:
        return self.broadcast_redirect(token, "")

    def close(self) -> None:
        pass


@pytest.fixture
def cluster(monkeypatch):
    """(clock, log, masters for the given slaves): joining takes the next slave in turn."""
    clock, log = Clock(), []

    def start(*slaves: Slave) -> Masters:
        masters = Masters(list(slaves))

        def join(redirect: Redirect, start) -> SlaveSession:
            slave = masters.slaves.popleft()
            log.append((slave.name, "joined"))
            return SlaveSession(slave, Accepted("alice", redirect.slave), redirect)

        def connect(*args, **kwargs):
            return connect_with_retry(*args, **kwargs, join=join, clock=clock, sleep=clock.sleep)

        monkeypatch.setattr(client.broadcaster, "connect_with_retry", connect)
        monkeypatch.setattr(client.viewer, "connect_with_retry", connect)
        return masters

    return clock, log, start


class Source:
    def read(self) -> Captured:
        return Captured(640, 480, 1.0, jpeg=b"\xff\xd8 a jpeg")

    def events(self) -> list:
        return []

    def close(self) -> None:
        pass


def acking(extra: dict[int, list] | None = None) -> Callable[[object], list]:
    """A slave that acknowledges every frame, and after frame N also says ``extra[N]``."""
    return lambda m: [Ack(m.seq), *(extra or {}).get(m.seq, [])] if isinstance(m, ImageFrame) else []


def broadcaster(masters: Masters, clock: Clock, lines: list, **options) -> Broadcaster:
    return Broadcaster(
        masters, "token", Source(), fps=10, pass_through=True, on_event=lines.append, clock=clock, **options
    )


def test_a_move_joins_the_new_slave_before_the_old_one_is_left(cluster):
    clock, log, start = cluster
    old = Slave("s1", clock, log, acking({2: [Migrate("draining")]}))
    new = Slave("s2", clock, log, acking())
    lines: list[str] = []
    masters = start(old, new)
    broadcaster(masters, clock, lines).run(frames=5)
    assert masters.asked[1] == {"move_from": "s1", "lost": None}  # a move, away from s1
    assert log == [
        ("s1", "joined"), ("s1", 1), ("s1", 2),
        ("s2", "joined"), ("s2", 3),  # the very next frame goes to the new slave
        ("s1", BroadcastMoved), ("s1", "closed"),  # once the new one has acknowledged it
        ("s2", 4), ("s2", 5), ("s2", BroadcastStop), ("s2", "closed"),
    ]  # fmt: skip
    assert "moving off slave s1:5000: draining" in lines and "moved to slave s2:5000" in lines


def test_a_lost_slave_is_named_to_the_masters_and_the_numbers_carry_on(cluster):
    clock, log, start = cluster
    first = Slave("s1", clock, log, acking({2: [ConnectionLost("s1 reset")]}))
    second = Slave("s2", clock, log, acking())
    masters = start(first, second)
    lines: list[str] = []
    stats = broadcaster(masters, clock, lines).run(frames=4)
    assert [entry for entry in log if isinstance(entry[1], int)] == [("s1", 1), ("s1", 2), ("s2", 3), ("s2", 4)]
    assert masters.asked[-1] == {"move_from": None, "lost": "s1"}
    assert "lost the slave (s1 reset); reconnecting through the masters" in lines
    assert stats.reconnects == 1 and stats.slaves == ["s1:5000", "s2:5000"]


def test_a_pause_is_told_to_the_slave_and_to_each_new_one_at_once(cluster):
    clock, log, start = cluster
    first = Slave("s1", clock, log, lambda m: [Reconnect("drain")] if isinstance(m, BroadcastPause) else acking()(m))
    second = Slave("s2", clock, log, acking())
    caster = broadcaster(start(first, second), clock, [])

    def pause_after_the_first_frame(b: Broadcaster) -> None:
        if b.stats.captured and not b.state.paused:
            b.set_paused(True)

    caster.each_frame = pause_after_the_first_frame
    caster.run(duration=0.5)
    assert log == [
        ("s1", "joined"), ("s1", 1), ("s1", BroadcastPause), ("s1", "closed"),
        ("s2", "joined"), ("s2", BroadcastPause), ("s2", BroadcastStop), ("s2", "closed"),
    ]  # fmt: skip


def test_resuming_tells_the_slave_and_frames_flow_again(cluster):
    clock, log, start = cluster
    caster = broadcaster(start(Slave("s1", clock, log, acking())), clock, [])
    began = clock()

    def paused_for_the_first_third_of_a_second(b: Broadcaster) -> None:
        wanted = clock() - began < 0.35
        if b.state.paused != wanted:
            b.set_paused(wanted)

    caster.each_frame = paused_for_the_first_third_of_a_second
    stats = caster.run(duration=1.0)
    assert log[:5] == [("s1", "joined"), ("s1", BroadcastPause), ("s1", BroadcastResume), ("s1", 1), ("s1", 2)]
    assert stats.sent == stats.acked == 6


def viewer(masters: Masters, clock: Clock, lines: list) -> Viewer:
    return Viewer(masters, "token", "alice", on_event=lines.append, clock=clock)


def image(seq: int) -> ImageFrame:
    return parse(next(Decoder().feed(encode_frame(FrameInfo(seq, 1.0, 640, 480, Codec.JPEG), b"jpeg"))))


def test_being_thrown_out_ends_the_viewer_with_its_one_line(cluster):
    clock, log, start = cluster
    slave = Slave("s1", clock, log)
    slave.inbox.extend([image(1), Removed("alice")])
    with pytest.raises(Thrown, match="^alice removed you$"):
        viewer(start(slave), clock, []).run()
    assert log == [("s1", "joined"), ("s1", 1), ("s1", "closed")]  # acknowledged, then the slave is left


def test_the_end_of_the_broadcast_ends_the_viewer_quietly(cluster):
    clock, log, start = cluster
    slave = Slave("s1", clock, log)
    slave.inbox.extend([image(1), BroadcastEnded("alice")])
    lines: list[str] = []
    stats = viewer(start(slave), clock, lines).run()
    assert lines[-1] == "alice ended the broadcast" and stats.frames == 1


def test_the_viewer_follows_a_move_onto_the_new_slave_before_closing_the_old(cluster):
    clock, log, start = cluster
    old, new = Slave("s1", clock, log), Slave("s2", clock, log)
    old.inbox.extend([image(1), Move("drain")])
    new.inbox.extend([image(2), image(3)])
    lines: list[str] = []
    stats = viewer(start(old, new), clock, lines).run(frames=3)
    assert log[:5] == [("s1", "joined"), ("s1", 1), ("s2", "joined"), ("s1", "closed"), ("s2", 2)]
    assert stats.moves == 1 and stats.reconnects == 0 and stats.skipped == 0


def test_a_lost_slave_is_rejoined_through_the_masters(cluster):
    clock, log, start = cluster
    first, second = Slave("s1", clock, log), Slave("s2", clock, log)
    first.inbox.extend([image(1), Reconnect("drain")])
    second.inbox.extend([image(2)])
    lines: list[str] = []
    stats = viewer(start(first, second), clock, lines).run(frames=2)
    assert "lost the slave (slave s1:5000 asked us to reconnect: drain); reconnecting through the masters" in lines
    assert stats.reconnects == 1 and stats.frames == 2 and stats.slave == "s2:5000"


def test_a_silent_slave_is_given_up_on_the_loop_s_clock(cluster):
    clock, log, start = cluster
    first, second = Slave("s1", clock, log), Slave("s2", clock, log)
    first.silent_for = lambda: 10.5  # keepalives stopped
    second.inbox.extend([image(1)])
    stats = viewer(start(first, second), clock, []).run(frames=1)
    assert ("s1", "closed") in log and stats.reconnects == 1


def test_a_paused_viewer_tells_the_slave(cluster):
    clock, log, start = cluster
    watcher = viewer(start(Slave("s1", clock, log)), clock, [])
    wishes = iter([True, False])  # pause at the first turn of the loop, resume at the second

    def keep_going() -> bool:
        wish = next(wishes, None)
        if wish is not None:
            watcher.set_paused(wish)
        return True

    watcher.run(duration=0.2, keep_going=keep_going)
    assert log == [("s1", "joined"), ("s1", ViewerPause), ("s1", ViewerResume), ("s1", "closed")]
