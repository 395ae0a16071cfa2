"""Bandwidth caps for viewer sessions (features S7 and S8), as pure functions.

*Proportional performance* (S8, seed [0089]-[0092]): a viewer may state its link type or its
speed when it starts; the master turns that into a cap for the session. The default policy
is the seed's tiers: a dial-up link is capped at 20 kbps, DSL at 80 kbps, LAN at 280 kbps;
a stated speed picks its tier (below 128 kbps: dial-up; below 2,000 kbps: DSL; else LAN).
The alternative policy ``share:F`` caps a session at the fraction F of the stated speed.
A viewer that states nothing is not capped by this rule.

*Per-user budget* (S7, seed [0086]-[0088]): each user has an allowance by service level,
divided equally among all the viewer sessions the user has open on any slave. A session's
cap is the smaller of its share and its speed cap. The defaults (free 10,000 kbps, paid
50,000 kbps) let the default broadcast (640x480 at 15 fps, about 5,000 kbps) play at its
full rate to one viewer of the free level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LINK_TIERS = (("dialup", 128.0), ("dsl", 2000.0), ("lan", float("inf")))
DEFAULT_LINK_CAPS = "dialup=20,dsl=80,lan=280"
DEFAULT_ALLOWANCES = "free=10000,paid=50000"


def parse_levels(text: str) -> dict[str, float]:
    """``"a=1,b=2"`` as {"a": 1.0, "b": 2.0}; ValueError if malformed."""
    levels = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name or float(value) < 0:
            raise ValueError(f"expected NAME=KBPS, got {part!r}")
        levels[name.strip()] = float(value)
    return levels


@dataclass(frozen=True)
class SpeedPolicy:
    link_caps: dict[str, float] = field(default_factory=lambda: parse_levels(DEFAULT_LINK_CAPS))
    share: float | None = None

    @classmethod
    def parse(cls, policy: str, link_caps: str) -> "SpeedPolicy":
        """``tiers`` or ``share:F`` (0 < F <= 1), with the link caps ``dialup=20,...``."""
        caps = parse_levels(link_caps)
        if policy == "tiers":
            return cls(caps)
        name, _, fraction = policy.partition(":")
        if name == "share" and fraction and 0 < float(fraction) <= 1:
            return cls(caps, float(fraction))
        raise ValueError(f"unknown speed policy {policy!r}: use tiers or share:F")

    def cap_for(self, speed_kbps: float | None, link: str | None) -> float | None:
        if link is not None:
            return self.link_caps[link]
        if speed_kbps is None:
            return None
        if self.share is not None:
            return self.share * speed_kbps
        tier = next(name for name, below in LINK_TIERS if speed_kbps < below)
        return self.link_caps[tier]


def session_caps(allowance: float | None, speed_caps: dict[str, float | None]) -> dict[str, float | None]:
    """Each open session's cap: an equal share of the allowance, within its speed cap."""
    share = allowance / len(speed_caps) if allowance and speed_caps else None
    return {session: _smaller(share, cap) for session, cap in speed_caps.items()}


def _smaller(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
