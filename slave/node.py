"""One slave node: its parts, wired together. This is the only file that knows every part;
read it as the wiring diagram. Time is the reactor's (``reactor.seconds()``, its timers).

The broadcasts live in one table (``table``, ``slave.broadcasts``), whose every change is
a transition of ``slave.broadcast_life``; ``lifecycle`` says what each means to whom.
``admission`` checks the tickets connections open with; ``viewers`` attaches and detaches
viewers; ``turbo`` switches lone viewers to the peer link; ``relays`` pulls broadcasts from
other slaves; ``viewer_control`` handles caps, throws, keepalives and stalls; ``draining``
the drain; ``reporter`` the heartbeats and session tables over the master link (``uplink``);
``sealing``, when the ports serve TLS, the keys of sealed frames (``slave.sealing``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.tokens import NodeKeys, ViewTicket
from slave.admission import Admission
from slave.bans import Bans
from slave.broadcasts import BroadcastTable
from slave.client_port import ClientServices
from slave.config import SlaveConfig
from slave.drain import Draining
from slave.fanout import FanoutStats
from slave.lifecycle import Lifecycle
from slave.master_link import MasterLinkServices
from slave.metrics import SlaveCollector
from slave.relay import PullParts, Relays
from slave.reports import Reporter
from slave.sealing import Sealing
from slave.status import SlaveStatus
from slave.turbo import TurboSwitch
from slave.uplink import Uplink
from slave.viewer_control import ViewerControl
from slave.viewers import Viewers


class Slave:
    def __init__(
        self, config: SlaveConfig, signer: NodeKeys, reactor: Any, peer_tls: Callable[[str], Any] | None = None
    ):
        """``reactor``: its clock and timers, and TCP for relay pulls; ``peer_tls(host)``: the
        TLS client options for other slaves when the cluster's slaves serve TLS."""
        c = config
        self.config, self.reactor = config, reactor
        self.stats = FanoutStats()
        self.table = BroadcastTable(self.stats)
        self.uplink = Uplink()
        self.status = SlaveStatus()
        self.bans = Bans(reactor, signer.kept_for(ViewTicket))

        # a broadcast's viewers, and its life
        self.turbo = TurboSwitch(self.table, reactor)
        self.viewers = Viewers(self.table, self.turbo, self.uplink, self.stats, reactor)
        self.viewer_control = ViewerControl(self.table, self.viewers, self.bans, c, reactor)
        self.lifecycle = Lifecycle(self.table, self.viewers, self.turbo, self.uplink, reactor, c.grace)
        pulls = PullParts(reactor, signer, c, self.uplink, self.lifecycle, self.viewers, peer_tls)
        self.relays = Relays(self.table, pulls)
        self.admission = Admission(
            signer, c, self.table, self.status, self.lifecycle, self.viewers, self.relays, self.bans, reactor
        )

        # what the masters hear and ask
        self.reporter = Reporter(
            self.uplink, self.table, self.viewers, self.turbo, self.relays, self.status, c.master_timeout
        )
        self.draining = Draining(self.status, self.table, self.lifecycle, self.reporter, reactor, c.drain_deadline)
        self.metrics = SlaveCollector(
            self.stats, self.table, self.lifecycle, self.status, self.turbo, self.relays, self.uplink, self.reporter
        )

        # what the ports dispatch to
        sealing = Sealing(reactor) if peer_tls is not None else None  # the ports serve TLS
        self.client_services = ClientServices(
            c, self.stats, self.table, self.admission, self.lifecycle, self.viewers, self.turbo, sealing
        )
        self.master_link_services = MasterLinkServices(
            c,
            signer,
            self.uplink,
            self.reporter,
            self.viewer_control,
            self.draining,
            self.lifecycle,
            self.relays,
        )
