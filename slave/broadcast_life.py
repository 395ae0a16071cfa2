"""A broadcast's life on one slave: every state it can be in, and every way from one to
another, in one table (``TRANSITIONS``). ``slave.broadcasts`` fires these events, and only
it; what each one sends to whom is in ``slave.lifecycle``.

=========  ==========  =========  ===========================================================
from       event       to         when
=========  ==========  =========  ===========================================================
(new)      upload      live       a broadcaster's ticket starts the broadcast here
(new)      relay       relayed    the first viewer of a relay: pulled from another slave (C10)
live       rejoin      live       a newer connection of the same broadcast replaces the old one
live       drop        orphaned   the broadcaster's connection was lost: ``grace`` s to return
live       stop        ended      the broadcaster stopped
orphaned   rejoin      live       the broadcaster came back within the grace
orphaned   expire      ended      the grace passed
relayed    adopt       live       the broadcaster itself arrived at this relay: the origin
                                  now, its viewers stay
live       move        moved      the broadcaster moved to another slave (drain, rebalance)
orphaned   move        moved      its broadcaster came back elsewhere, or a drain sends its
                                  viewers to find it
relayed    move        moved      a drain sends a relay's viewers elsewhere
relayed    upstream    ended      the upstream says the broadcast ended
moved      upstream    ended      (a relay whose viewers are still following)
relayed    empty       ended      its last viewer (or downstream relay) left
moved      empty       ended      its last viewer followed it
any        shutdown    ended      the drain's deadline: everyone is sent back to the masters
=========  ==========  =========  ===========================================================

``(new)``: a broadcast is created in one of the two ``START_STATES``. A moved broadcast
takes no new viewers; a broadcaster of the same user arriving meanwhile
starts a fresh broadcast beside it. Only ``live`` and ``orphaned`` broadcasts are this
slave's own: those are the ones the masters' session table names here.
"""

from __future__ import annotations

from enum import Enum

from slave.transitions import Machine


class State(Enum):
    LIVE = "live"
    ORPHANED = "orphaned"
    RELAYED = "relayed"
    MOVED = "moved"
    ENDED = "ended"


class Event(Enum):
    REJOIN = "rejoin"
    DROP = "drop"
    STOP = "stop"
    EXPIRE = "expire"
    ADOPT = "adopt"
    MOVE = "move"
    UPSTREAM = "upstream"
    EMPTY = "empty"
    SHUTDOWN = "shutdown"


START_STATES = (State.LIVE, State.RELAYED)  # uploaded here, or relayed from another slave
ORIGIN = frozenset((State.LIVE, State.ORPHANED))  # this slave's own: in the masters' table
SERVES = frozenset((State.LIVE, State.ORPHANED, State.RELAYED))  # takes new viewers

TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.LIVE, Event.REJOIN): State.LIVE,
    (State.LIVE, Event.DROP): State.ORPHANED,
    (State.LIVE, Event.STOP): State.ENDED,
    (State.ORPHANED, Event.REJOIN): State.LIVE,
    (State.ORPHANED, Event.EXPIRE): State.ENDED,
    (State.RELAYED, Event.ADOPT): State.LIVE,
    (State.LIVE, Event.MOVE): State.MOVED,
    (State.ORPHANED, Event.MOVE): State.MOVED,
    (State.RELAYED, Event.MOVE): State.MOVED,
    (State.RELAYED, Event.UPSTREAM): State.ENDED,
    (State.MOVED, Event.UPSTREAM): State.ENDED,
    (State.RELAYED, Event.EMPTY): State.ENDED,
    (State.MOVED, Event.EMPTY): State.ENDED,
    **{(state, Event.SHUTDOWN): State.ENDED for state in State if state is not State.ENDED},
}


class BroadcastLife(Machine[State, Event]):
    """One broadcast's state."""

    __slots__ = ()

    def __init__(self, start: State):
        if start not in START_STATES:
            raise ValueError(f"a broadcast starts {' or '.join(s.value for s in START_STATES)}, not {start.value}")
        super().__init__(TRANSITIONS, start)

    @property
    def origin(self) -> bool:
        return self.state in ORIGIN

    @property
    def serves(self) -> bool:
        return self.state in SERVES
