"""What this slave tells the masters of itself: a heartbeat every second (its load, state,
turbo and relay figures) and its complete session table (on every master link and every
``--refresh-interval``), over whichever master link is up."""

from __future__ import annotations

from common.messages.cluster import BroadcastReport, Heartbeat, SessionTable
from slave.broadcasts import BroadcastTable
from slave.relay import Relays
from slave.status import SlaveStatus
from slave.turbo import TurboSwitch
from slave.uplink import Uplink
from slave.viewers import Viewers


class Reporter:
    def __init__(
        self,
        uplink: Uplink,
        table: BroadcastTable,
        viewers: Viewers,
        turbo: TurboSwitch,
        relays: Relays,
        status: SlaveStatus,
        master_timeout: float,
    ):
        self.uplink = uplink
        self.table = table
        self.viewers = viewers
        self.turbo = turbo
        self.relays = relays
        self.status = status
        self.master_timeout = master_timeout
        self.heartbeats_sent = 0

    def heartbeat(self) -> Heartbeat:
        viewers = self.table.viewer_count()
        return Heartbeat(
            len(self.table) + viewers,  # the load: streams carried
            len(self.table),
            viewers,
            self.status.state,
            self.status.exiting,
            self.turbo.on_peer(),
            self.turbo.bytes_saved,
            self.relays.links(),
        )

    def session_table(self) -> SessionTable:
        return SessionTable(
            tuple(BroadcastReport(b.user, b.session) for b in self.table.all() if b.life.origin),
            tuple(v.report for v in self.viewers.sessions.values()),
        )

    def send_heartbeat(self) -> None:
        """Drop a master link gone silent first, so the next heartbeat goes to another."""
        if self.uplink.link is not None:
            self.uplink.link.check_alive(self.master_timeout)
        if self.uplink.link is not None:
            self.uplink.link.report(self.heartbeat())
            self.heartbeats_sent += 1

    def send_table(self) -> None:
        self.uplink.report(self.session_table())
