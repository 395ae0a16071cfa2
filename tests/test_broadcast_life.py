"""The broadcast lifecycle (``slave.broadcast_life``) and the table that fires it
(``slave.broadcasts``): every listed transition works, every other one raises and changes
nothing, and the table keeps broadcasters, orphan timers and relay pulls in step with the
states, whatever sequence of events arrives."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import RequestError
from slave.broadcast_life import START_STATES, TRANSITIONS, BroadcastLife, Event, State
from slave.broadcasts import BroadcastTable
from slave.fanout import FanoutStats
from slave.transitions import IllegalTransition


def path_to(state: State) -> tuple[State, list[Event]]:
    """A start state and the events that lead from it to ``state`` (breadth first)."""
    queue = deque((start, start, []) for start in START_STATES)
    seen = set(START_STATES)
    while queue:
        start, at, events = queue.popleft()
        if at is state:
            return start, events
        for (source, event), target in TRANSITIONS.items():
            if source is at and target not in seen:
                seen.add(target)
                queue.append((start, target, events + [event]))
    raise AssertionError(f"{state} cannot be reached")


def life_in(state: State) -> BroadcastLife:
    start, events = path_to(state)
    life = BroadcastLife(start)
    for event in events:
        life.fire(event)
    assert life.state is state
    return life


def test_every_state_can_be_reached_and_every_one_but_ended_can_end():
    for state in State:
        life_in(state)
    for state in State:
        if state is not State.ENDED:
            assert life_in(state).can(Event.SHUTDOWN)


@pytest.mark.parametrize("source,event", sorted(TRANSITIONS, key=lambda pair: (pair[0].value, pair[1].value)))
def test_every_listed_transition_works(source, event):
    life = life_in(source)
    assert life.can(event)
    assert life.fire(event) is TRANSITIONS[source, event] is life.state


@pytest.mark.parametrize("state", list(State))
def test_every_unlisted_transition_raises_and_changes_nothing(state):
    for event in Event:
        if (state, event) in TRANSITIONS:
            continue
        life = life_in(state)
        assert not life.can(event)
        with pytest.raises(IllegalTransition, match=f"{event.value} is not allowed when {state.value}"):
            life.fire(event)
        assert life.state is state


def test_ended_is_final_and_a_broadcast_starts_uploaded_or_relayed():
    assert not [pair for pair in TRANSITIONS if pair[0] is State.ENDED]
    for state in set(State) - set(START_STATES):
        with pytest.raises(ValueError):
            BroadcastLife(state)


@pytest.mark.parametrize(
    "start,events,end",
    [
        (State.LIVE, [Event.STOP], State.ENDED),  # started, stopped
        (State.LIVE, [Event.DROP, Event.REJOIN, Event.STOP], State.ENDED),  # came back within the grace
        (State.LIVE, [Event.DROP, Event.EXPIRE], State.ENDED),  # did not
        (State.LIVE, [Event.MOVE, Event.EMPTY], State.ENDED),  # drained away; its viewers followed
        (State.LIVE, [Event.DROP, Event.MOVE, Event.EMPTY], State.ENDED),  # came back elsewhere
        (State.RELAYED, [Event.EMPTY], State.ENDED),  # a relay's last viewer left
        (State.RELAYED, [Event.UPSTREAM], State.ENDED),  # the broadcaster stopped upstream
        (State.RELAYED, [Event.ADOPT, Event.STOP], State.ENDED),  # the broadcaster landed on its relay
        (State.RELAYED, [Event.MOVE, Event.UPSTREAM], State.ENDED),  # a drained relay
        (State.LIVE, [Event.REJOIN, Event.SHUTDOWN], State.ENDED),  # the drain's deadline
    ],
)
def test_the_lives_a_broadcast_leads(start, events, end):
    life = BroadcastLife(start)
    for event in events:
        life.fire(event)
    assert life.state is end


@given(st.sampled_from(START_STATES), st.lists(st.sampled_from(list(Event)), max_size=30))
def test_any_sequence_follows_the_table_exactly(start, events):
    life = BroadcastLife(start)
    for event in events:
        expected = TRANSITIONS.get((life.state, event))
        if expected is None:
            before = life.state
            with pytest.raises(IllegalTransition):
                life.fire(event)
            assert life.state is before
        else:
            assert life.fire(event) is expected
        assert life.origin == (life.state in (State.LIVE, State.ORPHANED))


# --- the table ------------------------------------------------------------------------
class Timer:
    def __init__(self):
        self.cancelled = False

    def active(self) -> bool:
        return not self.cancelled

    def cancel(self) -> None:
        self.cancelled = True


class Pull:
    def __init__(self, broadcast):
        self.broadcast = broadcast
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


PEERS = ("p1", "p2")
SESSIONS = ("s1", "s2")
ACTIONS = ("upload", "relay", "drop", "stop", "expire", "move", "upstream", "empty", "shutdown")


def act(table: BroadcastTable, timers: list, pulls: list, action: str, peer: str, session: str) -> None:
    broadcast = table.get("alice")
    if action == "upload":
        table.take_broadcaster("alice", session, peer)
    elif action == "relay":
        if broadcast is None:
            table.relay("alice", lambda b: pulls.append(Pull(b)) or pulls[-1])
    elif broadcast is None:
        return
    elif action == "drop":
        timers.append(Timer())
        table.orphan(broadcast, timers[-1])
    elif action in ("stop", "expire", "upstream"):
        table.end(broadcast, Event(action))
    elif action == "move":
        table.move(broadcast)
    elif action == "empty":
        broadcast.viewers.clear()
        table.viewers_left(broadcast)
    elif action == "shutdown":
        table.shut_down(broadcast)


def snapshot(table: BroadcastTable):
    broadcast = table.get("alice")
    return (
        broadcast,
        broadcast and broadcast.life.state,
        broadcast and broadcast.session,
        table.broadcaster("alice"),
        table.pull("alice"),
        dict(table._orphan_timers),
    )


def check_in_step(table: BroadcastTable, timers: list, pulls: list) -> None:
    broadcast = table.get("alice")
    state = broadcast.life.state if broadcast else None
    assert state is not State.ENDED
    assert (table.broadcaster("alice") is not None) == (state is State.LIVE)
    running = [t for t in timers if t.active()]
    assert len(running) == (1 if state is State.ORPHANED else 0)
    pull = table.pull("alice")
    if state is State.RELAYED:
        assert pull is not None and pull.broadcast is broadcast and not pull.stopped
    for other in pulls:  # a pull runs only for a relayed broadcast, or a moved one its viewers follow
        assert other.stopped or other.broadcast.life.state in (State.RELAYED, State.MOVED)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(ACTIONS), st.sampled_from(PEERS), st.sampled_from(SESSIONS)), max_size=25))
def test_the_table_keeps_everything_in_step_with_the_states(steps):
    table, timers, pulls = BroadcastTable(FanoutStats()), [], []
    for action, peer, session in steps:
        before = snapshot(table)
        try:
            act(table, timers, pulls, action, peer, session)
        except (IllegalTransition, RequestError):
            assert snapshot(table) == before  # refused: nothing changed
            if action == "drop":
                timers.pop().cancel()  # the timer the refused step was given
        check_in_step(table, timers, pulls)


def test_a_broadcaster_of_another_session_is_refused_while_the_first_is_here():
    table = BroadcastTable(FanoutStats())
    table.take_broadcaster("alice", "s1", "p1")
    with pytest.raises(RequestError, match="already broadcasting"):
        table.take_broadcaster("alice", "s2", "p2")
    broadcast, replaced = table.take_broadcaster("alice", "s1", "p2")
    assert replaced == "p1" and table.broadcaster("alice") == "p2" and broadcast.life.state is State.LIVE


def test_a_moved_broadcast_makes_way_for_a_fresh_one_and_still_ends_with_its_viewers():
    table = BroadcastTable(FanoutStats())
    moved, _ = table.take_broadcaster("alice", "s1", "p1")
    moved.viewers["v"] = object()
    table.move(moved)
    fresh, _ = table.take_broadcaster("alice", "s1", "p2")
    assert fresh is not moved and table.get("alice") is fresh
    moved.viewers.clear()
    table.viewers_left(moved)
    assert moved.life.state is State.ENDED and table.get("alice") is fresh and fresh.life.state is State.LIVE
