"""Choosing a slave for a new broadcast (feature C5), as a pure function.

A slave's *load* is the number of streams it carries: one per broadcast it receives plus
one per viewer it feeds, as reported in its last heartbeat. Streams are what cost a slave
sockets, memory and send work, and they change only when sessions come and go, so load is
stable between heartbeats and comparable across slaves.

Because heartbeats arrive once a second, a burst of placements would all land on the same
slave (every master sees the same stale load). Each placement therefore also counts in
``placed``, the number of broadcasts sent to that slave since its last heartbeat (reset by
the heartbeat), and the choice minimises ``load + placed``. Ties go to the slave id, so the
choice is deterministic.
"""

from __future__ import annotations

from typing import Iterable

from common.messages.cluster import SlaveState
from common.signing import CLOCK_SKEW
from master.policy.records import SlaveRecord


def effective_state(slave: SlaveRecord, now: float, dead_after: float, me: str = "") -> SlaveState:
    """``dead`` once heartbeats stop for ``dead_after`` seconds; ``draining`` as soon as an
    operator asked for it, even before the slave says so; else what the slave reports.

    A heartbeat is stamped with the clock of the master that received it: master ``me``
    judges its own slaves' on its own clock, and gives those another master recorded
    ``CLOCK_SKEW`` more, so a master whose clock is a few seconds ahead does not find every
    other master's slaves dead and clear their sessions (that master marks its own dead in
    time)."""
    if now - slave.heartbeat > dead_after + (0.0 if slave.master == me else CLOCK_SKEW):
        return SlaveState.DEAD
    if slave.wanted == SlaveState.DRAINING and slave.state == SlaveState.LIVE:
        return SlaveState.DRAINING
    return slave.state


def choose_slave(
    slaves: Iterable[SlaveRecord], now: float, dead_after: float, avoid: str | None = None
) -> SlaveRecord | None:
    """The live slave with the least load, counting placements since its last heartbeat
    (never ``avoid``, the slave a broadcast is moving away from)."""
    candidates = [s for s in slaves if effective_state(s, now, dead_after) == SlaveState.LIVE and s.id != avoid]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.load + s.placed, s.id))


def plan_rebalance(
    loads: dict[str, int], broadcasts: dict[str, tuple[str, int]], max_moves: int = 100
) -> list[tuple[str, str, str]]:
    """Which broadcasts to move so that the live slaves' loads even out (C8).

    ``loads``: live slave id -> load; ``broadcasts``: user -> (slave id, viewers). A broadcast
    moves with its viewers, so moving it shifts ``1 + viewers`` load. Repeatedly, the largest
    broadcast on the most loaded slave that still narrows the gap to the least loaded one
    moves there. Returns (user, from slave, to slave) moves.
    """
    loads = dict(loads)
    where = {user: slave for user, (slave, _) in broadcasts.items() if slave in loads}
    moves: list[tuple[str, str, str]] = []
    while len(loads) > 1 and len(moves) < max_moves:
        high = max(loads, key=lambda s: (loads[s], s))
        low = min(loads, key=lambda s: (loads[s], s))
        gap = loads[high] - loads[low]
        movable = [(1 + broadcasts[user][1], user) for user, slave in where.items() if slave == high]
        movable = [(size, user) for size, user in movable if size < gap]
        if not movable:
            break
        size, user = max(movable)
        moves.append((user, high, low))
        where[user] = low
        loads[high] -= size
        loads[low] += size
    return moves
