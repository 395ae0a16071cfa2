"""Graceful degradation in the fan-out core (S3, S5), without sockets."""

from twisted.internet.task import Clock

from slave.broadcast_life import BroadcastLife, State
from slave.fanout import BACKPRESSURE, IN_FLIGHT, PAUSED, THROTTLED, Broadcast, FanoutStats, Frame, ViewerStream


def frame(seq, size=None):
    wire = b"wire-%d" % seq
    return Frame(seq, float(seq), wire.ljust(size or len(wire), b"."))


def viewer(stats, clock=None, cap_kbps=None):
    sent = []
    return ViewerStream("v", sent.append, stats, clock or Clock(), cap_kbps=cap_kbps), sent


def test_one_frame_in_flight_and_the_newest_is_sent_next():
    stats = FanoutStats()
    stream, sent = viewer(stats)
    for seq in (1, 2, 3, 4):
        stream.offer(frame(seq))
    assert sent == [b"wire-1"]
    assert stream.skipped[IN_FLIGHT] == 2  # frames 2 and 3 were replaced before they could go
    stream.acknowledged(1)
    assert sent == [b"wire-1", b"wire-4"]
    stream.acknowledged(4)
    assert stream.in_flight is None and stream.waiting is None


def test_stale_or_unknown_acks_are_ignored():
    stream, sent = viewer(FanoutStats())
    stream.offer(frame(5))
    stream.offer(frame(6))
    stream.acknowledged(3)
    assert sent == [b"wire-5"]


def test_a_full_socket_holds_frames_back_until_drained():
    stats = FanoutStats()
    stream, sent = viewer(stats)
    stream.set_writable(False)
    stream.offer(frame(1))
    stream.offer(frame(2))
    assert sent == [] and stream.skipped[BACKPRESSURE] == 1
    stream.set_writable(True)
    assert sent == [b"wire-2"]


def test_a_slow_viewer_never_slows_a_fast_one():
    stats = FanoutStats()
    broadcast = Broadcast("alice", "s1", stats, BroadcastLife(State.LIVE))
    fast, fast_sent = viewer(stats)
    slow, slow_sent = viewer(stats)
    broadcast.add_viewer("fast", fast)
    broadcast.add_viewer("slow", slow)
    for seq in range(1, 101):
        broadcast.publish(frame(seq))
        fast.acknowledged(seq)
        if seq % 10 == 0:
            slow.acknowledged(slow.in_flight)
    assert len(fast_sent) == 100
    assert len(slow_sent) <= 11
    assert stats.frames_in == 100 and stats.frames_out == len(fast_sent) + len(slow_sent)


def test_every_viewer_gets_the_same_bytes_object():
    stats = FanoutStats()
    broadcast = Broadcast("alice", "s1", stats, BroadcastLife(State.LIVE))
    a, a_sent = viewer(stats)
    b, b_sent = viewer(stats)
    broadcast.add_viewer("a", a)
    broadcast.add_viewer("b", b)
    broadcast.publish(frame(1))
    assert a_sent[0] is b_sent[0]


def test_a_new_viewer_starts_on_the_newest_frame_and_old_frames_are_refused():
    stats = FanoutStats()
    broadcast = Broadcast("alice", "s1", stats, BroadcastLife(State.LIVE))
    broadcast.publish(frame(7))
    broadcast.publish(frame(3))  # out of order: ignored
    late, sent = viewer(stats)
    broadcast.add_viewer("late", late)
    broadcast.start_viewer(late)
    assert sent == [b"wire-7"]


def test_a_paused_viewer_gets_nothing_and_resumes_on_the_newest_frame():
    stats = FanoutStats()
    stream, sent = viewer(stats)
    stream.set_paused(True)
    for seq in (1, 2, 3):
        stream.offer(frame(seq))
    assert sent == [] and stream.skipped[PAUSED] == 2
    stream.set_paused(False)
    assert sent == [b"wire-3"]


def test_a_capped_viewer_is_held_back_then_sent_the_newest_frame():
    clock = Clock()
    stats = FanoutStats()
    stream, sent = viewer(stats, clock, cap_kbps=80)  # 10,000 bytes/s
    stream.offer(frame(1, 5000))
    stream.acknowledged(1)
    stream.offer(frame(2, 5000))  # the window now needs 0.5 s more
    assert len(sent) == 1
    clock.advance(0.2)
    stream.offer(frame(3, 5000))
    assert stream.skipped[THROTTLED] == 1
    clock.advance(0.3)
    assert [w[:6] for w in sent] == [b"wire-1", b"wire-3"]


def test_a_new_cap_applies_at_once():
    clock = Clock()
    stream, sent = viewer(FanoutStats(), clock, cap_kbps=8)  # 1,000 bytes/s
    stream.offer(frame(1, 5000))
    stream.acknowledged(1)
    stream.offer(frame(2, 5000))
    assert len(sent) == 1
    stream.set_cap(None)
    assert len(sent) == 2


def test_removing_a_viewer_cancels_its_timer():
    clock = Clock()
    stats = FanoutStats()
    broadcast = Broadcast("alice", "s1", stats, BroadcastLife(State.LIVE))
    stream, sent = viewer(stats, clock, cap_kbps=8)
    broadcast.add_viewer("v", stream)
    broadcast.publish(frame(1, 5000))
    stream.acknowledged(1)
    broadcast.publish(frame(2, 5000))
    broadcast.remove_viewer("v")
    assert clock.getDelayedCalls() == []
