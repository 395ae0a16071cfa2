"""Draining a slave for maintenance (feature C7; seed [0067]), make-before-break.

1. The slave reports itself ``draining`` at once (a heartbeat goes out), so masters stop
   placing sessions on it.
2. Every broadcaster on it is told MIGRATE. It asks a master for a new slave, starts
   uploading there, and once the new slave has acknowledged a frame it tells this slave
   BROADCAST_MOVED and leaves. This slave then tells each viewer of that broadcast MOVE:
   the viewer joins the new slave (which already has the newest frame) before it leaves
   this one, so it sees no gap beyond a frame or two.
3. Viewers of a broadcast whose broadcaster is away (in its reconnection grace) are told
   MOVE at once; they find the broadcast wherever it reappears.
4. The drain always ends: at the deadline whatever is left is told RECONNECT and closed.
5. Empty, the slave reports ``drained``: it stays idle out of placement until undrained,
   or, when the drain came from SIGTERM, the process exits.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet import task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from common.messages.cluster import SlaveState
from slave.broadcasts import BroadcastTable
from slave.lifecycle import Lifecycle
from slave.reports import Reporter
from slave.status import SlaveStatus


class Draining:
    """Drains asked of this slave (by a master, or SIGTERM), one at a time."""

    def __init__(
        self,
        status: SlaveStatus,
        table: BroadcastTable,
        lifecycle: Lifecycle,
        reporter: Reporter,
        reactor: IReactorTime,
        deadline: float,
    ):
        self.status = status
        self.table = table
        self.lifecycle = lifecycle
        self.reporter = reporter
        self.reactor = reactor
        self.deadline = deadline
        self.drain: Drain | None = None

    def start(self, deadline: float | None = None, on_empty: Callable[[], None] | None = None) -> None:
        """Start draining (``on_empty``: to exit, on SIGTERM). Asked again, it carries on;
        a later SIGTERM still gets its exit."""
        if self.drain is None:
            self.drain = Drain(self, deadline or self.deadline, on_empty)
            self.drain.start()
        elif on_empty is not None:
            self.drain.exit_when_empty(on_empty)

    def undrain(self) -> None:
        if self.drain is not None and not self.status.exiting:
            self.drain.cancel()
            self.drain = None


class Drain:
    """One drain: its deadline, and the check that the slave is empty."""

    log = Logger()

    def __init__(self, parts: Draining, deadline: float, on_empty: Callable[[], None] | None):
        self.parts = parts
        self.deadline = deadline
        self.on_empty = on_empty
        parts.status.exiting = on_empty is not None
        self._check = task.LoopingCall(self._check_empty)
        self._check.clock = parts.reactor
        self._timer = None

    def exit_when_empty(self, on_empty: Callable[[], None]) -> None:
        """The drain ends with the process (SIGTERM), not idle waiting for an undrain."""
        self.on_empty = on_empty
        self.parts.status.exiting = True
        if self.parts.status.state == SlaveState.DRAINED:
            on_empty()

    def start(self) -> None:
        parts = self.parts
        parts.status.state = SlaveState.DRAINING
        parts.reporter.send_heartbeat()
        self.log.info("draining: {n} broadcasts to move, deadline {d:g} s", n=len(parts.table), d=self.deadline)
        for broadcast in parts.table.all():
            parts.lifecycle.migrate(broadcast.user, "the slave is draining for maintenance", draining=True)
        self._timer = parts.reactor.callLater(self.deadline, self._force)
        self._check.start(0.1, now=True)

    def cancel(self) -> None:
        self._stop_timers()
        self.parts.status.state = SlaveState.LIVE
        self.parts.reporter.send_heartbeat()

    def _check_empty(self) -> None:
        if not len(self.parts.table):
            self._finish()

    def _force(self) -> None:
        """The deadline passed: send everyone left back through the masters."""
        self._timer = None
        self.log.warn(
            "drain deadline reached; {n} broadcasts still here are told to reconnect", n=len(self.parts.table)
        )
        self.parts.lifecycle.disconnect_everyone("the slave is shutting down")
        self._finish()

    def _finish(self) -> None:
        self._stop_timers()
        self.parts.status.state = SlaveState.DRAINED
        self.parts.reporter.send_heartbeat()
        self.parts.reporter.send_table()
        self.log.info("drained: no sessions left")
        if self.on_empty is not None:
            self.on_empty()

    def _stop_timers(self) -> None:
        if self._check.running:
            self._check.stop()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
