"""``framecast up`` keeps its nodes running as compose's ``restart: unless-stopped`` does: a
master or slave that exits is started again, with the same options and ports, after a delay
that doubles from 0.1 s up to a minute while it keeps dying and falls back to 0.1 s once it
has run 10 s (Docker's restart policy), so the cluster carries on with the others."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

FIRST_DELAY = 0.1
LONGEST_DELAY = 60.0
STEADY_AFTER = 10.0  # seconds of running after which a node counts as healthy again


@dataclass
class RestartDelay:
    """How long to wait before restarting a node that just exited (pure)."""

    delay: float = 0.0

    def after_exit(self, ran_for: float) -> float:
        if self.delay == 0.0 or ran_for >= STEADY_AFTER:
            self.delay = FIRST_DELAY
        else:
            self.delay = min(self.delay * 2, LONGEST_DELAY)
        return self.delay


class Supervised(Protocol):
    name: str

    def exit_code(self) -> int | None:
        """None while the node runs."""


@dataclass
class _Watch:
    started_at: float
    delay: RestartDelay = field(default_factory=RestartDelay)
    restart_at: float | None = None


class Supervisor:
    """Call ``check`` every so often: it restarts what has exited once its delay is over, and
    returns one line for the user per exit and per restart."""

    def __init__(
        self, nodes: list[Supervised], respawn: Callable[[Supervised], None], clock: Callable[[], float] = time.monotonic
    ):
        self.nodes, self.respawn, self.clock = nodes, respawn, clock
        self._watches: dict[str, _Watch] = {}

    def check(self) -> list[str]:
        now = self.clock()
        return [line for node in self.nodes if (line := self._check(node, now))]

    def _check(self, node: Supervised, now: float) -> str | None:
        watch = self._watches.setdefault(node.name, _Watch(started_at=now))
        code = node.exit_code()
        if code is None:
            return None
        if watch.restart_at is None:
            delay = watch.delay.after_exit(now - watch.started_at)
            watch.restart_at = now + delay
            return f"{node.name} exited with status {code}; restarting it in {delay:g} s"
        if now < watch.restart_at:
            return None
        self.respawn(node)
        watch.started_at, watch.restart_at = now, None
        return f"{node.name} restarted"
