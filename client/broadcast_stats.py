"""A broadcaster's totals, as ``framecast broadcast`` reports them at the end."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BroadcastStats:
    captured: int = 0
    sent: int = 0
    skipped: int = 0
    throttled: int = 0
    acked: int = 0
    reconnects: int = 0
    moves: int = 0
    passed_through: int = 0  # source JPEGs uploaded as they came
    source_outages: int = 0
    slaves: list[str] = field(default_factory=list)
