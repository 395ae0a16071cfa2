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

from dataclasses import dataclass
from typing import Iterable

LIVE = "live"
DRAINING = "draining"
DEAD = "dead"


@dataclass(frozen=True)
class SlaveRecord:
    id: str
    addr: str
    load: int
    heartbeat: float
    state: str = LIVE
    placed: int = 0
    broadcasts: int = 0
    viewers: int = 0
    metrics: str = ""
    master: str = ""


def effective_state(slave: SlaveRecord, now: float, dead_after: float) -> str:
    """``dead`` once heartbeats stop for ``dead_after`` seconds, else the reported state."""
    if now - slave.heartbeat > dead_after:
        return DEAD
    return slave.state


def choose_slave(slaves: Iterable[SlaveRecord], now: float, dead_after: float) -> SlaveRecord | None:
    """The live slave with the least load, counting placements since its last heartbeat."""
    candidates = [s for s in slaves if effective_state(s, now, dead_after) == LIVE]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.load + s.placed, s.id))
