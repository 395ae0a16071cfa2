"""The viewer's decisions (``client.view_state``), in process: joining and rejoining, following
a move make-before-break, pause, silence, the end of a broadcast and being thrown out."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, strategies as st

from client.actions import Cap, Close, Move, Say, Send
from client.retry import OUTAGE_CODES
from client.view_state import SILENCE_LIMIT, BroadcastOver, Thrown, ViewState
from common.errors import ErrorCode
from common.messages.admission import Removed
from common.messages.basic import Error
from common.messages.streaming import (
    Accepted,
    BroadcastEnded,
    BroadcastPaused,
    Keepalive,
    Move as MoveMessage,
    Reconnect,
    ViewerCap,
    ViewerPause,
    ViewerResume,
)
from common.protocol import Codec, FrameInfo


@dataclass(eq=False)
class Slave:
    slave: str
    slave_id: str
    accepted: Accepted = field(default_factory=lambda: Accepted("alice", "s:1"))


def watching(**accepted) -> tuple[ViewState, Slave]:
    state, session = ViewState("alice"), Slave("s1:5000", "s1", Accepted("alice", "s1:5000", **accepted))
    state.joined(session)
    return state, session


def frame(seq: int) -> FrameInfo:
    return FrameInfo(seq, 1.0, 640, 480, Codec.JPEG)


def test_a_first_join_gives_up_at_once_a_rejoin_waits_for_the_broadcaster():
    assert ViewState.join_codes(first=True) == set()
    assert ViewState.join_codes(first=False) == {ErrorCode.NOT_BROADCASTING} | OUTAGE_CODES


def test_joining_takes_the_slave_s_figures_and_says_where():
    state, session = ViewState("alice"), Slave("s1:5000", "s1", Accepted("alice", "s1:5000", cap_kbps=80, paused=True))
    assert state.joined(session) == [Say("watching alice on slave s1:5000")]
    stats = state.stats
    assert (stats.slave, stats.cap_kbps, stats.broadcaster_paused, stats.reconnects) == ("s1:5000", 80, True, 0)
    state.lost("gone")
    state.joined(Slave("s2:5000", "s2"), again=True)
    assert state.stats.reconnects == 1 and state.stats.slave == "s2:5000"


def test_a_paused_viewer_tells_each_new_slave_at_once():
    state, session = watching()
    actions = state.set_paused(True)
    assert [(a.to, type(a.message)) for a in actions if isinstance(a, Send)] == [(session, ViewerPause)]
    assert actions[-1] == Say("paused")
    state.lost("gone")
    other = Slave("s2:5000", "s2")
    assert [type(a.message) for a in state.joined(other, again=True) if isinstance(a, Send)] == [ViewerPause]
    assert [type(a.message) for a in state.set_paused(False) if isinstance(a, Send)] == [ViewerResume]


def test_pausing_between_slaves_tells_no_one():
    state, _ = watching()
    state.lost("gone")
    assert state.set_paused(True) == [Say("paused")] and state.stats.paused


def test_a_move_is_followed_make_before_break():
    state, old = watching()
    assert state.received(MoveMessage("drain")) == [Move()]
    new = Slave("s2:5000", "s2")
    actions = state.followed(new)
    assert actions == [Say("watching alice on slave s2:5000"), actions[-1]]
    assert isinstance(actions[-1], Close) and actions[-1].session is old  # closed once the new one took us
    assert state.slave is new and state.stats.moves == 1 and state.stats.reconnects == 0


def test_a_move_that_cannot_be_followed_reconnects_through_the_masters():
    state, old = watching()
    actions = state.follow_failed("no slave")
    assert actions[0] == Say("could not follow the broadcast (no slave); reconnecting")
    assert actions[1].session is old and state.slave is None and state.stats.moves == 0


def test_silence_past_the_limit_loses_the_slave():
    state, session = watching()
    assert state.quiet(SILENCE_LIMIT) == []
    actions = state.quiet(SILENCE_LIMIT + 0.5)
    assert actions[0] == Say(
        f"lost the slave (no word from slave s1:5000 for {SILENCE_LIMIT:g} s); reconnecting through the masters"
    )
    assert actions[1].session is session and state.slave is None


def test_reconnect_and_error_lose_the_slave_with_the_reason():
    state, _ = watching()
    assert state.received(Reconnect("draining"))[0] == Say(
        "lost the slave (slave s1:5000 asked us to reconnect: draining); reconnecting through the masters"
    )
    state, _ = watching()
    assert state.received(Error("internal", "boom"))[0].line.startswith("lost the slave (slave s1:5000 asked us")


def test_the_broadcaster_s_pause_and_the_cap_are_shown():
    state, _ = watching()
    assert state.received(BroadcastPaused("alice", True)) == [Say("alice paused the broadcast")]
    assert state.stats.broadcaster_paused
    assert state.received(BroadcastPaused("alice", False)) == [Say("alice resumed the broadcast")]
    assert state.received(ViewerCap(20)) == [Cap(20)] and state.stats.cap_kbps == 20
    assert state.received(Keepalive()) == []


def test_the_end_of_the_broadcast_ends_the_viewing():
    state, _ = watching()
    with pytest.raises(BroadcastOver, match="^alice ended the broadcast$"):
        state.received(BroadcastEnded("alice"))


def test_being_thrown_out_ends_the_viewer_with_one_line():
    state, _ = watching()
    with pytest.raises(Thrown) as thrown:
        state.received(Removed("alice"))
    assert str(thrown.value) == "alice removed you" and "\n" not in str(thrown.value)
    assert not isinstance(thrown.value, BroadcastOver)  # a failure: non-zero exit, unlike an ended broadcast


def test_frames_are_counted_once_when_two_paths_carry_them():
    state, _ = watching()
    assert state.counts(frame(1), 100, two_paths=False)
    assert state.counts(frame(3), 100, two_paths=True)
    assert not state.counts(frame(3), 100, two_paths=True)  # the other path brought it
    assert not state.counts(frame(2), 100, two_paths=True)
    assert state.counts(frame(2), 100, two_paths=False)  # one path: whatever comes is shown
    assert state.stats.frames == 3 and state.stats.skipped == 1


@given(st.lists(st.tuples(st.integers(1, 50), st.booleans()), max_size=80))
def test_with_two_paths_a_frame_is_shown_only_if_newer_than_the_last(arrivals):
    state, _ = watching()
    for seq, two_paths in arrivals:
        last = state.stats.last_seq
        assert state.counts(frame(seq), 10, two_paths) == (seq > last or not two_paths)
        assert state.stats.last_seq == (seq if seq > last or not two_paths else last)
