"""Rendering the cluster status as the table ``framecast status`` prints (O4)."""

from __future__ import annotations

from common.messages.accounts import Status


def table(headers: list[str], rows: list[list[object]]) -> list[str]:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def render(status: Status) -> str:
    lines = ["MASTERS"]
    lines += table(
        ["ID", "ADDRESS", "STATE", "HEARTBEAT"],
        [[m.id, m.addr, m.state, f"{m.heartbeat_age:.1f}s ago"] for m in status.masters],
    )
    lines += ["", "SLAVES"]
    lines += table(
        ["ID", "ADDRESS", "STATE", "LOAD", "BROADCASTS", "VIEWERS", "TURBO", "SAVED", "HEARTBEAT"],
        [
            [
                *(s.id, s.addr, s.state, s.load, s.broadcasts, s.viewers, s.turbo_viewers),
                f"{s.turbo_bytes / 1e6:.1f} MB",
                f"{s.heartbeat_age:.1f}s ago",
            ]
            for s in status.slaves
        ],
    )
    lines += ["", "BROADCASTS"]
    if status.broadcasts:
        lines += table(["USER", "SLAVE", "ADDRESS"], [[b.user, b.slave, b.addr] for b in status.broadcasts])
    else:
        lines.append("  (none)")
    if status.relays:
        lines += ["", "RELAY TREES (origin, then relays by depth)"]
        lines += table(
            ["USER", "SLAVE", "PULLS FROM", "DEPTH", "VIEWERS"],
            [[r.user, ("  " * r.depth) + r.slave, r.upstream or "(origin)", r.depth, r.viewers] for r in status.relays],
        )
    return "\n".join(lines)
