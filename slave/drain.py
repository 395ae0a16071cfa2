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

from common.protocol import MessageType as T

DRAINING = "draining"
DRAINED = "drained"
LIVE = "live"


class Drain:
    log = Logger()

    def __init__(self, slave, deadline: float, on_empty: Callable[[], None] = lambda: None):
        self.slave = slave
        self.deadline = deadline
        self.on_empty = on_empty
        self._check = task.LoopingCall(self._check_empty)
        self._check.clock = slave.reactor
        self._timer = None

    def start(self) -> None:
        slave = self.slave
        slave.state = DRAINING
        slave.send_heartbeat()
        self.log.info("draining: {n} broadcasts to move, deadline {d:g} s", n=len(slave.broadcasts), d=self.deadline)
        for broadcast in list(slave.broadcasts.values()):
            broadcaster = slave.broadcasters.get(broadcast.user)
            if broadcaster is not None:
                broadcaster.send_json(T.MIGRATE, reason="the slave is draining for maintenance")
            else:
                slave.broadcast_moved(broadcast)
        self._timer = slave.reactor.callLater(self.deadline, self._force)
        self._check.start(0.1, now=True)

    def cancel(self) -> None:
        self._stop_timers()
        self.slave.state = LIVE
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
        self.slave.disconnect_everyone("the slave is shutting down")
        self._finish()

    def _finish(self) -> None:
        self._stop_timers()
        self.slave.state = DRAINED
        self.slave.send_heartbeat()
        self.slave.send_table()
        self.log.info("drained: no sessions left")
        self.on_empty()

    def _stop_timers(self) -> None:
        if self._check.running:
            self._check.stop()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
