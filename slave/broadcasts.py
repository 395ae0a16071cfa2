"""The table of broadcasts on one slave: each broadcast by user, its broadcaster's
connection, the relay pull feeding a relayed one, and the orphan timer of one waiting for
its broadcaster. This is the only writer of those four, and the only place a broadcast
changes state (``slave.broadcast_life``): each method below is one transition, with what
it means for the four kept together (a broadcaster is here only while ``live``, a timer
runs only while ``orphaned``, a pull only while ``relayed`` or ``moved``). Telling anyone
about it is ``slave.lifecycle``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall

from common.errors import ErrorCode, RequestError
from slave.broadcast_life import BroadcastLife, Event, State
from slave.fanout import Broadcast, FanoutStats
from slave.peer import Peer


class Pull(Protocol):
    """What the table needs of a relay pull (``slave.relay.RelayPull``)."""

    broadcast: Broadcast

    def stop(self) -> None: ...


class BroadcastTable:
    def __init__(self, stats: FanoutStats):
        self.stats = stats
        self._broadcasts: dict[str, Broadcast] = {}
        self._broadcasters: dict[str, Peer] = {}
        self._pulls: dict[str, Pull] = {}
        self._orphan_timers: dict[str, IDelayedCall] = {}

    # --- reading ----------------------------------------------------------------------
    def get(self, user: str) -> Broadcast | None:
        return self._broadcasts.get(user)

    def serving(self, user: str) -> Broadcast | None:
        """``user``'s broadcast if it takes new viewers here (not moved away)."""
        broadcast = self._broadcasts.get(user)
        return broadcast if broadcast is not None and broadcast.life.serves else None

    def broadcaster(self, user: str) -> Peer | None:
        return self._broadcasters.get(user)

    def all(self) -> list[Broadcast]:
        return list(self._broadcasts.values())

    def __len__(self) -> int:
        return len(self._broadcasts)

    def viewer_count(self) -> int:
        return sum(len(b.viewers) for b in self._broadcasts.values())

    def pull(self, user: str) -> Pull | None:
        return self._pulls.get(user)

    def pulls(self) -> dict[str, Pull]:
        return dict(self._pulls)

    # --- transitions ------------------------------------------------------------------
    def take_broadcaster(self, user: str, session: str, peer: Peer) -> tuple[Broadcast, Peer | None]:
        """``peer`` broadcasts ``user``'s session ``session`` here: a fresh broadcast, a relay
        adopted, or one rejoined. Returns it, and the connection ``peer`` replaces."""
        broadcast = self._broadcasts.get(user)
        if broadcast is None or broadcast.life.state is State.MOVED:  # old viewers of a moved one are leaving
            broadcast = self._broadcasts[user] = Broadcast(user, session, self.stats, BroadcastLife(State.LIVE))
        elif broadcast.life.state is State.RELAYED:  # its viewers stay
            broadcast.life.fire(Event.ADOPT)
            self._stop_pull(broadcast)
            broadcast.session = session
        elif broadcast.session != session:
            raise RequestError(
                ErrorCode.ALREADY_BROADCASTING, f"{user} is already broadcasting (one broadcast per user)"
            )
        else:
            broadcast.life.fire(Event.REJOIN)
            self._cancel_orphan_timer(user)
        previous = self._broadcasters.get(user)
        self._broadcasters[user] = peer
        return broadcast, previous if previous is not peer else None

    def relay(self, user: str, pull_for: Callable[[Broadcast], Pull]) -> Broadcast:
        """A relayed broadcast of ``user``, fed by the pull ``pull_for`` makes for it."""
        broadcast = self._broadcasts[user] = Broadcast(user, "", self.stats, BroadcastLife(State.RELAYED))
        self._pulls[user] = pull_for(broadcast)
        return broadcast

    def orphan(self, broadcast: Broadcast, timer: IDelayedCall) -> None:
        """Its broadcaster's connection was lost; ``timer`` ends it unless it comes back."""
        broadcast.life.fire(Event.DROP)
        del self._broadcasters[broadcast.user]
        self._orphan_timers[broadcast.user] = timer

    def move(self, broadcast: Broadcast) -> None:
        broadcast.life.fire(Event.MOVE)
        self._broadcasters.pop(broadcast.user, None)
        self._cancel_orphan_timer(broadcast.user)

    def end(self, broadcast: Broadcast, event: Event) -> bool:
        """``event`` (stop, expire, upstream) ends the broadcast; False if it is no longer
        the table's (ended already, or replaced after it moved)."""
        if self._broadcasts.get(broadcast.user) is not broadcast:
            return False
        broadcast.life.fire(event)
        self._broadcasters.pop(broadcast.user, None)
        self._forget(broadcast)
        return True

    def viewers_left(self, broadcast: Broadcast) -> None:
        """After a viewer (or a downstream relay) left: a relayed or moved broadcast ends
        with its last one."""
        if not broadcast.viewers and broadcast.life.can(Event.EMPTY):
            broadcast.life.fire(Event.EMPTY)
            self._stop_pull(broadcast)
            if self._broadcasts.get(broadcast.user) is broadcast:
                self._forget(broadcast)

    def shut_down(self, broadcast: Broadcast) -> Peer | None:
        """The drain's deadline: the broadcast ends; returns its broadcaster, if connected."""
        broadcast.life.fire(Event.SHUTDOWN)
        self._forget(broadcast)
        return self._broadcasters.pop(broadcast.user, None)

    def _forget(self, broadcast: Broadcast) -> None:
        del self._broadcasts[broadcast.user]
        self._cancel_orphan_timer(broadcast.user)
        self._stop_pull(broadcast)

    def _stop_pull(self, broadcast: Broadcast) -> None:
        pull = self._pulls.get(broadcast.user)
        if pull is not None and pull.broadcast is broadcast:
            del self._pulls[broadcast.user]
            pull.stop()

    def _cancel_orphan_timer(self, user: str) -> None:
        timer = self._orphan_timers.pop(user, None)
        if timer is not None and timer.active():
            timer.cancel()
