"""Prometheus view of a slave's plain counters, read at scrape time (O3).

The hot path only bumps integers; this collector turns them into metrics when Prometheus
asks, so counting a frame costs no lock and no label lookup.
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from slave.broadcasts import BroadcastTable
from slave.fanout import FanoutStats
from slave.lifecycle import Lifecycle
from slave.relay import Relays
from slave.reports import Reporter
from slave.status import SlaveStatus
from slave.turbo import TurboSwitch
from slave.uplink import Uplink


class SlaveCollector:
    def __init__(
        self,
        stats: FanoutStats,
        table: BroadcastTable,
        lifecycle: Lifecycle,
        status: SlaveStatus,
        turbo: TurboSwitch,
        relays: Relays,
        uplink: Uplink,
        reporter: Reporter,
    ):
        self.stats, self.table, self.lifecycle, self.status = stats, table, lifecycle, status
        self.turbo, self.relays, self.uplink, self.reporter = turbo, relays, uplink, reporter

    def collect(self):
        stats, table, turbo = self.stats, self.table, self.turbo
        yield _counter("framecast_slave_frames_in", "Frames received from broadcasters", stats.frames_in)
        yield _counter("framecast_slave_bytes_in", "Bytes of frames received", stats.bytes_in)
        yield _counter("framecast_slave_frames_out", "Frames sent to viewers", stats.frames_out)
        yield _counter("framecast_slave_sealed_views", "Views started with sealed frames", stats.sealed_views)
        yield _counter("framecast_slave_bytes_out", "Bytes of frames sent to viewers", stats.bytes_out)
        skipped = CounterMetricFamily(
            "framecast_slave_frames_skipped", "Frames skipped for a viewer", labels=["reason"]
        )
        for reason, count in stats.skipped.items():
            skipped.add_metric([reason], count)
        yield skipped
        yield _counter(
            "framecast_slave_upload_frames_dropped", "Uploaded frames over the upload cap", stats.upload_dropped
        )
        # No series per user or session: their number is unbounded, and who watches whom
        # is not for anyone who can scrape to see.
        caps = [s.cap_kbps for b in table.all() for s in b.viewers.values() if s.cap_kbps]
        yield GaugeMetricFamily("framecast_slave_capped_viewers", "Viewer streams with a cap", value=len(caps))
        yield GaugeMetricFamily(
            "framecast_slave_viewer_caps_kbps", "Sum of the caps of capped viewer streams", value=sum(caps)
        )
        yield _counter("framecast_slave_heartbeats_sent", "Heartbeats sent to a master", self.reporter.heartbeats_sent)
        moves = CounterMetricFamily("framecast_slave_migrations", "Sessions moved off this slave", labels=["kind"])
        for kind, count in self.lifecycle.moves.items():
            moves.add_metric([kind], count)
        yield moves
        yield GaugeMetricFamily(
            "framecast_slave_draining", "1 while draining or drained", value=int(not self.status.live)
        )
        yield GaugeMetricFamily("framecast_slave_broadcasts", "Live broadcasts on this slave", value=len(table))
        yield GaugeMetricFamily("framecast_slave_viewers", "Viewers on this slave", value=table.viewer_count())
        yield GaugeMetricFamily(
            "framecast_slave_turbo_viewers", "Viewers getting images peer to peer", value=turbo.on_peer()
        )
        yield _counter(
            "framecast_slave_turbo_bytes_saved",
            "Image bytes broadcasters sent peer to peer, which this slave did not carry",
            turbo.bytes_saved,
        )
        relays = self.relays
        yield GaugeMetricFamily(
            "framecast_slave_relays", "Broadcasts relayed from other slaves", value=len(relays.pulls())
        )
        yield GaugeMetricFamily(
            "framecast_slave_relay_depth",
            "Deepest relay here: hops from the broadcaster's slave",
            value=relays.max_depth(),
        )
        yield _counter(
            "framecast_slave_relay_upstream_switches",
            "Relays switching to another upstream",
            relays.upstream_switches(),
        )
        yield GaugeMetricFamily(
            "framecast_slave_master_connected", "1 while a master link is up", value=int(self.uplink.link is not None)
        )


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
