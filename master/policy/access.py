"""Who may watch whom (U3-U7; seed [0093]-[0094], [0102], [0106], FIG. 10), as one pure,
clock-injected policy. The master gathers the facts (``Standing``) and applies the
decision; nothing else decides.

* The broadcaster always sees their own broadcast.
* Someone on the broadcaster's ignore list is ignored: the request is dropped and the
  broadcaster never hears of it.
* A viewer the broadcaster threw out is asked about (a new request) until the ban ends,
  unless the broadcaster consented again since (accepted a request, or invited them).
* Otherwise consent admits: a request accepted for this broadcast, an invitation, or the
  allow list. Failing that the rule decides: ``everyone`` admits, ``friends`` admits the
  broadcaster's friends, ``list`` only the allow list, ``room:#R`` the members of #R, and
  ``ask`` puts every other request to the broadcaster.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from common.prefs import AccessKind


class Decision(enum.StrEnum):
    ADMIT = "admit"
    ASK = "ask"
    REFUSE = "refuse"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Standing:
    """What the service knows of one viewer and one broadcaster. Times are epoch seconds;
    ``granted_at`` is the acceptance of a request for the broadcaster's current broadcast."""

    rule: AccessKind = AccessKind.EVERYONE
    room: str | None = None
    self_view: bool = False
    friend: bool = False
    allowed: bool = False
    ignored: bool = False
    room_member: bool = False
    invited_at: float | None = None
    granted_at: float | None = None
    thrown_at: float | None = None
    thrown_until: float | None = None


def decide(standing: Standing, now: float) -> Decision:
    s = standing
    if s.self_view:
        return Decision.ADMIT
    if s.ignored:
        return Decision.IGNORE
    if s.thrown_until is not None and now < s.thrown_until:
        return Decision.ADMIT if _consented_since(s, s.thrown_at or 0.0) else Decision.ASK
    if s.granted_at is not None or s.invited_at is not None or s.allowed:
        return Decision.ADMIT
    if s.rule == AccessKind.EVERYONE:
        return Decision.ADMIT
    if s.rule == AccessKind.ASK:
        return Decision.ASK
    admitted = {AccessKind.FRIENDS: s.friend, AccessKind.ROOM: s.room_member}.get(s.rule, False)
    return Decision.ADMIT if admitted else Decision.REFUSE


def _consented_since(s: Standing, when: float) -> bool:
    return any(t is not None and t >= when for t in (s.granted_at, s.invited_at))


def refusal(broadcaster: str, standing: Standing) -> str:
    """Why a refused viewer may not watch, in one line."""
    who = {
        AccessKind.FRIENDS: "friends",
        AccessKind.LIST: "the people on their list",
        AccessKind.ROOM: f"members of {standing.room}",
    }.get(standing.rule, "people they chose")
    return f"{broadcaster} only lets {who} watch"
