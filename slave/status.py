"""What this slave tells the masters it is: live, draining or drained (``slave.drain``
changes it), and whether it exits once drained."""

from __future__ import annotations

from common.messages.cluster import SlaveState


class SlaveStatus:
    def __init__(self) -> None:
        self.state = SlaveState.LIVE
        self.exiting = False  # the drain ends with the process (SIGTERM)

    @property
    def live(self) -> bool:
        return self.state == SlaveState.LIVE
