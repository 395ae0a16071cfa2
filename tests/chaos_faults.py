"""The faults of the chaos run, each a kind with ``inject`` and ``heal`` on a ``HostCluster``:
what happens to real hosts, done to the namespaces (kill -9, iptables inside a host, a tmpfs
filled up, a clock set ahead with libfaketime, latency through ``tests/delay_proxy.py``, the
Redis primary lost for good so that the Sentinels promote its replica).
A killed node is started again with the same command a few seconds later, as a
supervisor (compose's ``restart``) would. ``heal`` always leaves the cluster as it was.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from client.errors import FramecastError
from common.messages.accounts import OperatorCommand
from tests.host_cluster import PG_PORT, HostCluster

RESTART_AFTER = 2.0  # seconds a killed node stays down
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@dataclass
class Fault:
    kind: str
    hold: float  # seconds between inject and heal
    target: str = ""
    started: float = 0.0
    ended: float = 0.0
    undo: list = field(default_factory=list)

    def inject(self, cluster: HostCluster, rng: random.Random) -> None:
        self.started = time.time()
        getattr(self, "_" + self.kind)(cluster, rng)

    def heal(self, cluster: HostCluster) -> None:
        for step in reversed(self.undo):
            step()
        self.undo.clear()
        self.ended = time.time()

    # --- the kinds --------------------------------------------------------------------------
    def _kill_slave(self, cluster, rng) -> None:
        self._kill(cluster, rng.choice(cluster.role("slave")).name)

    def _kill_master(self, cluster, rng) -> None:
        self._kill(cluster, rng.choice(cluster.role("master")).name)

    def _kill_relay(self, cluster, rng) -> None:
        """The slave carrying the fewest broadcasts of its own (so mostly relayed viewers)."""
        status = cluster.masters().status(secret=cluster.secret)
        carried = {s.id: s.broadcasts for s in status.slaves}
        self._kill(cluster, min(carried, key=lambda slave: (carried[slave], rng.random())))

    def _kill(self, cluster, name: str) -> None:
        self.target = name
        node = cluster.nodes[name]
        node.kill(signal.SIGKILL)
        self.undo.append(lambda: node.start())
        time.sleep(RESTART_AFTER)
        node.start()
        self.undo.clear()

    def _drain(self, cluster, rng) -> None:
        slave = rng.choice(cluster.role("slave")).name
        self.target = slave
        cluster.masters().operator(cluster.secret, OperatorCommand.DRAIN, slave, 20)

        def undrain() -> None:
            cluster.masters().operator(cluster.secret, OperatorCommand.UNDRAIN, slave)

        self.undo.append(lambda: _retrying(undrain))

    def _redis_restart(self, cluster, rng) -> None:
        """The current Redis primary killed -9 and started again (empty) before the Sentinels
        call it down: no failover."""
        self.target = cluster.redis.primary() or "redis-1"
        cluster.redis.restart(self.target, RESTART_AFTER)

    def _sentinel_failover(self, cluster, rng) -> None:
        """The current Redis primary killed -9 for good: the Sentinels promote its replica;
        the old primary comes back as the new one's replica."""
        old, new = cluster.redis.fail_over()
        self.target = f"{old} -> {new}"

    def _postgres_restart(self, cluster, rng) -> None:
        self.target = "postgres"
        cluster.stop_postgres("fast")
        time.sleep(RESTART_AFTER)
        cluster.start_postgres()

    def _postgres_unreachable(self, cluster, rng) -> None:
        """Packets to PostgreSQL dropped: connections hang rather than fail."""
        self.target = "postgres"
        db = cluster.net["db"]
        rules = [db.add_rule("INPUT", "-p", "tcp", "--dport", str(PG_PORT), "-j", "DROP")]
        self.undo.append(lambda: db.heal(rules))

    def _partition(self, cluster, rng) -> None:
        """A slave cut off from every master; its viewers and broadcasters still reach it."""
        host = cluster.net[rng.choice(cluster.role("slave")).name]
        self.target = host.name
        rules = host.cut_from(*(m.host for m in cluster.role("master")))
        self.undo.append(lambda: host.heal(rules))

    def _packet_loss(self, cluster, rng) -> None:
        """10 % of packets lost on a client host's link (viewers', broadcasters', relays')."""
        host = rng.choice(cluster.clients + [cluster.net[s.name] for s in cluster.role("slave")])
        self.target = host.name
        rules = host.lose(0.1)
        self.undo.append(lambda: host.heal(rules))

    def _latency(self, cluster, rng) -> None:
        """200 ms each way between HAProxy and the last master."""
        self.target = cluster.role("master")[-1].name
        cluster.set_latency(0.2)
        self.undo.append(lambda: cluster.set_latency(0))

    def _clock_ahead(self, cluster, rng) -> None:
        """A master restarted with its clock 3 s ahead (libfaketime), and back at the heal."""
        node = rng.choice(cluster.role("master"))
        self.target = node.name
        plain = dict(node.env)
        node.kill(signal.SIGKILL)
        node.env = {**plain, "LD_PRELOAD": FAKETIME, "FAKETIME": "+3", "FAKETIME_DONT_FAKE_MONOTONIC": "0"}
        node.start()

        def back() -> None:
            node.kill(signal.SIGTERM)
            node.env = plain
            node.start()

        self.undo.append(back)

    def _log_disk_full(self, cluster, rng) -> None:
        """The small tmpfs the last slave logs to, filled up."""
        filler = Path(cluster.log_disk) / "filler"
        self.target = f"slave-{cluster.counts[1]}"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        self.undo.append(lambda: filler.unlink(missing_ok=True))


def _retrying(action, attempts: int = 20) -> None:
    for _ in range(attempts):
        try:
            action()
            return
        except FramecastError:
            time.sleep(1)


KINDS: dict[str, float] = {  # each kind, and the seconds it is held before the heal
    "kill_slave": 0,
    "kill_master": 0,
    "kill_relay": 0,
    "drain": 8,
    "redis_restart": 0,
    "sentinel_failover": 0,
    "postgres_restart": 0,
    "postgres_unreachable": 30,
    "partition": 15,
    "packet_loss": 20,
    "latency": 20,
    "clock_ahead": 15,
    "log_disk_full": 20,
}


def fault(kind: str) -> Fault:
    return Fault(kind, KINDS[kind])
