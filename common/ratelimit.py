"""Rate limits (messages, requests, logins) as the generic cell rate algorithm, a pure
function: a key's state is one number, its *theoretical arrival time* (TAT).

With ``rate`` events a second and a ``burst`` of events allowed at once, each event moves
the TAT on by ``1 / rate``; an event is allowed if the TAT it would leave is at most
``burst / rate`` ahead of now. So an idle key may spend ``burst`` events at once, then one
every ``1 / rate`` seconds. The Redis store runs the same rule in Lua, atomically for all
masters; the shared store tests hold the two together.
"""

from __future__ import annotations


def gcra(tat: float | None, now: float, rate: float, burst: int) -> tuple[float, float | None]:
    """For one event at ``now``: the seconds to wait before it would be allowed (0.0 if it
    is allowed now), and the key's new TAT (None: unchanged, the event was refused)."""
    interval = 1.0 / rate
    new_tat = max(tat if tat is not None else now, now) + interval
    wait = new_tat - now - burst * interval
    if wait > 1e-9:
        return wait, None
    return 0.0, new_tat
