"""The master's Prometheus metrics (O3). Labels are bounded sets (results, kinds, states,
slave ids), never users or sessions."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PLACEMENTS = Counter(
    "framecast_master_placements_total",
    "Broadcast placements: new, reconnect (back to its slave), failover (its slave was lost), "
    "moved (drain or rebalance), refused, no_slave",
    ["result"],
)
RELAY_CHOICES = Counter(
    "framecast_master_relay_choices_total",
    "Relay chain decisions: a viewer to the origin, to a relay, to a new relay; an upstream for a relay, or none",
    ["kind"],
)
REDIRECTS = Counter("framecast_master_redirects_total", "Redirects sent to clients", ["kind"])
LOGINS = Counter("framecast_master_logins_total", "Login attempts", ["result"])
OPERATIONS = Counter("framecast_master_operations_total", "Operator commands carried out", ["command"])
TABLE_REBUILDS = Counter(
    "framecast_master_table_rebuilds_total", "Complete tables asked of slaves after Redis lost them"
)
HEARTBEATS = Counter("framecast_master_heartbeats_total", "Slave heartbeats received")
SLAVES = Gauge("framecast_master_slaves", "Slaves known to the cluster, by state", ["state"])
CAP_UPDATES = Counter(
    "framecast_master_cap_updates_total", "Commands sent to slaves (caps, drains, moves), by route", ["route"]
)
SLAVE_HEARTBEAT_AGE = Gauge(
    "framecast_master_slave_heartbeat_age_seconds", "Age of each slave's last heartbeat", ["slave"]
)
