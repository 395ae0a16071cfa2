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

from typing import Callable

from twisted.internet import task
from twisted.logger import Logger

from common.messages.cluster import SlaveState


class Drain:
    log = Logger()

    def __init__(self, slave, deadline: float, on_empty: Callable[[], None] | None = None):
        self.slave = slave
        self.deadline = deadline
        self.on_empty = on_empty
        self._check = task.LoopingCall(self._check_empty)
        self._check.clock = slave.reactor
        self._timer = None

    @property
    def exiting(self) -> bool:
        """The drain ends with the process (SIGTERM), not idle waiting for an undrain."""
        return self.on_empty is not None

    def exit_when_empty(self, on_empty: Callable[[], None]) -> None:
        self.on_empty = on_empty
        if self.slave.state == SlaveState.DRAINED:
            on_empty()

    def start(self) -> None:
        slave = self.slave
        slave.state = SlaveState.DRAINING
        slave.send_heartbeat()
        self.log.info("draining: {n} broadcasts to move, deadline {d:g} s", n=len(slave.broadcasts), d=self.deadline)
        for user in list(slave.broadcasts):
            slave.lifecycle.migrate(user, "the slave is draining for maintenance", draining=True)
        self._timer = slave.reactor.callLater(self.deadline, self._force)
        self._check.start(0.1, now=True)

    def cancel(self) -> None:
        self._stop_timers()
        self.slave.state = SlaveState.LIVE
        self.slave.send_heartbeat()

    def _check_empty(self) -> None:
        if not self.slave.broadcasts:
            self._finish()

    def _force(self) -> None:
        """The deadline passed: send everyone left back through the masters."""
        self._timer = None
        self.log.warn(
            "drain deadline reached; {n} broadcasts still here are told to reconnect", n=len(self.slave.broadcasts)
        )
        self.slave.lifecycle.disconnect_everyone("the slave is shutting down")
        self._finish()

    def _finish(self) -> None:
        self._stop_timers()
        self.slave.state = SlaveState.DRAINED
        self.slave.send_heartbeat()
        self.slave.send_table()
        self.log.info("drained: no sessions left")
        if self.on_empty is not None:
            self.on_empty()

    def _stop_timers(self) -> None:
        if self._check.running:
            self._check.stop()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
