"""Who holds the session-table entry of a user's broadcast (S9), as a pure rule."""

from __future__ import annotations

import enum

from common.messages.cluster import SlaveState
from master.policy.records import BroadcastEntry, SlaveRecord


class Claim(enum.StrEnum):
    CLAIMED = "claimed"  # the entry now names the chosen slave
    EXISTING = "existing"  # the same broadcast reconnecting while its slave is live: keep it there
    BUSY = "busy"  # another broadcast of this user is on a slave that has not died


def decide_claim(
    current: BroadcastEntry | None,
    holder: SlaveRecord | None,
    session: str,
    now: float,
    dead_after: float,
    pending_ttl: float,
    move: bool,
) -> Claim:
    """The claim rule (S9), as a pure function; the Redis store's Lua script is the same
    rule, and the shared store tests hold the two to it.

    ``current`` is the user's entry and ``holder`` the record of the slave it names.
    Another session of the user keeps the entry while its slave lives and it is confirmed
    or still young; the same session stays where it is (``EXISTING``) while its slave is
    live, unless it is moving."""
    if current is None or holder is None:
        return Claim.CLAIMED
    alive = now - holder.heartbeat < dead_after and holder.state != SlaveState.DEAD
    if not alive:
        return Claim.CLAIMED
    if current.session != session:
        young = now - current.updated < pending_ttl
        return Claim.BUSY if current.confirmed or young else Claim.CLAIMED
    if not move and holder.state == SlaveState.LIVE and holder.wanted != SlaveState.DRAINING:
        return Claim.EXISTING
    return Claim.CLAIMED
