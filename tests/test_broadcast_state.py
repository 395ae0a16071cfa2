"""The broadcaster's decisions (``client.broadcast_state``), in process: one frame in flight,
pause and camera outages, make-before-break moves, losing a slave and getting back on."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, strategies as st

from client.actions import Close, Move, Say, Send, Upload
from client.broadcast_state import ACK_LIMIT, BroadcastState
from client.retry import OUTAGE_CODES
from common.messages.basic import Error
from common.messages.streaming import (
    Ack,
    BroadcastMoved,
    BroadcastPause,
    BroadcastResume,
    BroadcastStop,
    Migrate,
    Reconnect,
    ViewerChange,
    ViewerEvent,
)


@dataclass(eq=False)
class Slave:
    slave: str
    slave_id: str


def on(slave: str = "s1") -> tuple[BroadcastState, Slave]:
    state, session = BroadcastState(), Slave(f"{slave}:5000", slave)
    state.connected(session)
    return state, session


def sends(actions: list) -> list[tuple[Slave, type]]:
    return [(action.to, type(action.message)) for action in actions if isinstance(action, Send)]


def closes(actions: list) -> list[tuple[Slave, type | None]]:
    return [(a.session, type(a.farewell) if a.farewell else None) for a in actions if isinstance(a, Close)]


def lines(actions: list) -> list[str]:
    return [action.line for action in actions if isinstance(action, Say)]


def test_joining_a_slave_says_where():
    state, session = BroadcastState(), Slave("10.0.0.1:5000", "s1")
    assert state.connected(session) == [Say("broadcasting through slave 10.0.0.1:5000")]
    assert state.slave is session and state.stats.slaves == ["10.0.0.1:5000"]


def test_one_frame_in_flight_the_next_is_skipped_until_the_ack():
    state, _ = on()
    assert state.captured() == [Upload(1, to_slave=True, to_peers=False)]
    state.sent(1)
    assert state.captured() == []
    assert state.stats.skipped == 1
    assert state.received(Ack(7)) == [] and state.in_flight == 1  # not ours
    assert state.received(Ack(1)) == []
    assert state.captured() == [Upload(3, to_slave=True, to_peers=False)]
    assert (state.stats.sent, state.stats.acked) == (1, 1)


def test_turbo_mode_sends_to_peers_while_the_slave_is_not_uploaded_to():
    state, _ = on()
    assert state.captured(uploading=False, peers_want=True) == [Upload(1, to_slave=False, to_peers=True)]
    assert state.captured(uploading=False, peers_want=False) == []
    state.sent(3)
    assert state.captured(uploading=True, peers_want=True) == [Upload(3, to_slave=False, to_peers=True)]


def test_a_slave_silent_past_the_ack_limit_is_lost():
    state, session = on()
    state.captured()
    state.sent(1)
    assert state.captured(silent_for=ACK_LIMIT) == []  # not yet
    actions = state.captured(silent_for=ACK_LIMIT + 0.1)
    assert lines(actions) == [
        f"lost the slave (no acknowledgement for {ACK_LIMIT:g} s); reconnecting through the masters"
    ]
    assert closes(actions) == [(session, None)]
    assert state.slave is None and state.lost_slave == "s1" and state.stats.reconnects == 1


def test_a_new_broadcast_is_told_of_outages_at_once_a_reconnection_waits_them_out():
    state = BroadcastState()
    assert state.rejoin_codes() == set()
    state, _ = on()
    state.lost("gone")
    assert state.rejoin_codes() == OUTAGE_CODES


def test_after_a_loss_the_next_slave_starts_afresh():
    state, _ = on()
    state.captured()
    state.sent(1)
    state.received(Reconnect("draining"))
    assert state.lost_slave == "s1"
    other = Slave("s2:5000", "s2")
    state.connected(other)
    assert state.lost_slave is None and state.in_flight is None
    assert state.captured() == [Upload(2, to_slave=True, to_peers=False)]  # the numbers carry on


def test_reconnect_and_error_from_the_slave_lose_it_with_the_reason():
    state, _ = on()
    assert lines(state.received(Reconnect("draining"))) == [
        "lost the slave (slave asked to reconnect: draining); reconnecting through the masters"
    ]
    state, _ = on()
    assert lines(state.received(Error("internal", "boom"))) == [
        "lost the slave (slave error: boom); reconnecting through the masters"
    ]


def test_viewer_events_are_one_line_each():
    state, _ = on()
    assert state.received(ViewerEvent(ViewerChange.JOIN, "bob", 1)) == [Say("bob joined (1 watching)")]
    assert state.received(ViewerEvent(ViewerChange.LEAVE, "bob", 0)) == [Say("bob left (0 watching)")]


def test_pause_tells_the_slave_once_and_resume_tells_it_again():
    state, session = on()
    actions = state.set_paused(True)
    assert sends(actions) == [(session, BroadcastPause)] and lines(actions) == ["paused"]
    assert sends(state.set_paused(True)) == []  # no change, nothing to tell
    assert state.held
    actions = state.set_paused(False)
    assert sends(actions) == [(session, BroadcastResume)] and lines(actions) == ["resumed"]


def test_a_camera_outage_holds_the_broadcast_like_a_pause():
    state, session = on()
    actions = state.source_lost("no data for 5 s")
    assert lines(actions) == ["source out (no data for 5 s); broadcast paused, reopening it"]
    assert sends(actions) == [(session, BroadcastPause)] and state.stats.source_outages == 1
    assert sends(state.set_paused(True)) == []  # already held
    assert sends(state.source_back(2.5)) == []  # still paused by the user
    assert sends(state.set_paused(False)) == [(session, BroadcastResume)]
    state.source_lost("again")
    assert lines(state.source_back(1.25)) == ["source back after 1.2 s; broadcast resumed"]


def test_a_held_broadcast_tells_each_new_slave_at_once():
    state, _ = on()
    state.set_paused(True)
    state.lost("gone")
    other = Slave("s2:5000", "s2")
    assert sends(state.connected(other)) == [(other, BroadcastPause)]


def test_pausing_between_slaves_tells_no_one():
    state, _ = on()
    state.lost("gone")
    assert state.set_paused(True) == [Say("paused")]


def test_make_before_break_the_old_slave_is_left_once_the_new_one_acknowledges():
    state, old = on()
    state.captured()
    state.sent(1)  # in flight to the old slave, never acknowledged
    assert state.received(Migrate("slave draining")) == [Say("moving off slave s1:5000: slave draining"), Move()]
    new = Slave("s2:5000", "s2")
    assert state.moved(new) == []  # the old one stays until the new one has a frame through
    assert state.slave is new and state.moving_from is old
    assert state.received(Migrate("again")) == []  # one move at a time
    assert state.captured() == [Upload(2, to_slave=True, to_peers=False)]  # no frame waits for the move
    state.sent(2)
    actions = state.received(Ack(2))
    assert closes(actions) == [(old, BroadcastMoved)] and lines(actions) == ["moved to slave s2:5000"]
    assert state.moving_from is None and state.stats.moves == 1 and state.stats.slaves == ["s1:5000", "s2:5000"]


def test_a_migrate_without_a_reason_still_says_why():
    state, _ = on()
    assert lines(state.received(Migrate())) == ["moving off slave s1:5000: asked to move"]


def test_a_held_broadcast_moves_at_once_paused():
    state, old = on()
    state.set_paused(True)
    new = Slave("s2:5000", "s2")
    actions = state.moved(new)
    assert sends(actions) == [(new, BroadcastPause)]
    assert closes(actions) == [(old, BroadcastMoved)]
    assert actions.index(next(a for a in actions if isinstance(a, Send))) < actions.index(
        next(a for a in actions if isinstance(a, Close))
    )  # the new slave holds the session, paused, before the old one lets go
    assert state.stats.moves == 1


def test_a_failed_move_stays_on_the_slave():
    state, old = on()
    state.received(Migrate("drain"))
    assert state.move_failed("no slave free") == [Say("could not move (no slave free); staying on slave s1:5000")]
    assert state.slave is old and state.moving_from is None
    assert state.received(Migrate("drain")) != []  # a later request is followed


def test_the_upload_cap_drops_frames_over_it():
    state = BroadcastState(max_kbps=8)  # 1000 bytes a second
    assert state.within_rate(0.0, 1000)
    assert not state.within_rate(0.1, 1000)
    assert state.stats.throttled == 1
    assert state.within_rate(2.0, 1000)
    assert BroadcastState().within_rate(0.0, 10**9)


def test_stopping_tells_the_slave():
    state, session = on()
    assert closes(state.stopped()) == [(session, BroadcastStop)]
    assert state.stopped() == []


EVENTS = st.sampled_from(
    ["capture", "ack", "stale ack", "migrate", "pause", "resume", "source out", "source back", "silence", "reconnect"]
)


@given(st.lists(st.tuples(EVENTS, st.booleans()), max_size=60))
def test_any_run_keeps_one_frame_in_flight_and_leaves_each_old_slave_once(events):
    """Driven as the loop drives it (``lucky``: a move finds a slave): whatever happens, one
    frame is in flight per slave, sequence numbers rise, the slave in use is never closed, and
    an old slave is let go only once the new one acknowledged a frame or the broadcast is held."""
    state, _ = on()
    slaves = iter(Slave(f"s{n}:5000", f"s{n}") for n in range(2, 1000))
    unacked: dict[Slave, int] = {}  # the frame sent to a slave and not acknowledged yet
    closed: list[Slave] = []
    counts = {"joins": 0, "moves": 0, "left": 0, "uploads": 0}
    last_seq = 0
    acked_now = False

    def do(actions: list, lucky: bool) -> None:
        nonlocal last_seq
        for action in actions:
            if isinstance(action, Close):
                assert action.session is not state.slave and action.session not in closed
                closed.append(action.session)
                if isinstance(action.farewell, BroadcastMoved):
                    assert state.held or acked_now
                    counts["left"] += 1
            elif isinstance(action, Move):
                counts["moves"] += lucky
                do(state.moved(next(slaves)) if lucky else state.move_failed("no slave"), lucky)
            elif isinstance(action, Upload) and action.to_slave:
                assert state.slave not in unacked and action.seq > last_seq
                last_seq = unacked[state.slave] = action.seq
                counts["uploads"] += 1
                state.sent(action.seq)

    for event, lucky in events:
        if state.slave is None:
            counts["joins"] += 1
            do(state.connected(next(slaves)), lucky)
        acked_now = event == "ack" and state.slave in unacked
        if acked_now:
            do(state.received(Ack(unacked.pop(state.slave))), lucky)
        elif event == "capture" and not state.held:
            do(state.captured(), lucky)
        elif event == "stale ack":
            do(state.received(Ack(last_seq + 5)), lucky)
        elif event == "migrate":
            do(state.received(Migrate("drain")), lucky)
        elif event in ("pause", "resume"):
            do(state.set_paused(event == "pause"), lucky)
        elif event == "source out":
            do(state.source_lost("gone"), lucky)
        elif event == "source back":
            do(state.source_back(1.0), lucky)
        elif event == "silence" and not state.held:
            do(state.captured(silent_for=ACK_LIMIT + 1), lucky)
        elif event == "reconnect":
            do(state.received(Reconnect("bye")), lucky)
    assert state.stats.moves == counts["left"]
    assert state.stats.reconnects == counts["joins"] + (state.slave is None)
    assert len(state.stats.slaves) == 1 + counts["joins"] + counts["moves"]
    assert state.stats.sent == counts["uploads"]
