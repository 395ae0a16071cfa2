"""A chaos run: a cluster of hosts under load (``tests/chaos_load.py``) while a schedule
injects faults one after another, sometimes two at once (``tests/chaos_faults.py``), bounded
in time and in faults; then the invariants (``tests/chaos_checks.py``) over everything the
agents reported, and a table. ``bench/chaos.py`` runs a long one, ``tests/test_chaos.py`` a
short one. Every process, namespace, rule and mount is removed at the end, however it ends.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from client.errors import FramecastError
from tests.chaos_faults import KINDS, Fault, fault
from tests.chaos_load import specs
from tests.host_cluster import REPOSITORY, HostCluster

RECOVER = 60.0  # seconds the cluster may take to have every slave live again after a fault


@dataclass
class Options:
    duration: float = 600.0  # seconds of faults, at most
    broadcasters: int = 10
    viewers: int = 100
    chatters: int = 4
    turbo: int = 1
    kinds: tuple[str, ...] = tuple(KINDS)
    rounds: int = 3  # times through every kind, at most
    pairs: float = 0.2  # chance that a fault comes with a second one at once
    max_hold: float = 30.0  # no fault held longer than this
    settle: float = 6.0  # seconds between one fault's heal and the next fault
    seed: int = 1


@dataclass
class Report:
    faults: list[Fault]
    events: list[dict]
    logs: dict[str, str]
    memory: dict[str, list[int]]
    end: float
    notes: list[str] = field(default_factory=list)


class ChaosRun:
    def __init__(self, workdir: Path, options: Options):
        self.workdir, self.options = workdir, options
        self.rng = random.Random(options.seed)
        self.events: list[dict] = []
        self.memory: dict[str, list[int]] = {}
        self.agents: list[subprocess.Popen] = []
        self.faults: list[Fault] = []
        self.notes: list[str] = []
        self.done = threading.Event()

    def run(self) -> Report:
        cluster = HostCluster(self.workdir / "cluster", master_args=["--relay-after", "2"]).start()
        try:
            cluster.add_clients(3)
            self._start_agents(cluster)
            threading.Thread(target=self._sample_memory, args=(cluster,), daemon=True).start()
            self._wait_viewing(60)
            self._schedule(cluster)
            time.sleep(self.options.settle)
            self._note_turbo(cluster)
            end = time.time()
            self._stop_agents()
            logs = {node.name: _read(node.log) for node in cluster.role("master") + cluster.role("slave")}
            logs.update({f"agent-{i}": _read(self.workdir / f"agent-{i}.err") for i in range(len(self.agents))})
            return Report(self.faults, self.events, logs, self.memory, end, self.notes)
        finally:
            self.done.set()
            self._stop_agents()
            for one in self.faults:
                if one.undo:  # a run that failed mid-fault
                    one.heal(cluster)
            cluster.stop()

    # --- load -------------------------------------------------------------------------------
    def _start_agents(self, cluster: HostCluster) -> None:
        o = self.options
        load = specs(cluster, self.workdir, o.broadcasters, o.viewers, o.chatters, o.turbo)
        for i, (host, spec) in enumerate(zip(cluster.clients, load)):
            path = self.workdir / f"agent-{i}.json"
            path.write_text(json.dumps(spec))
            argv = host.argv(sys.executable, "-m", "tests.chaos_agent", str(path))
            env = {"PYTHONPATH": REPOSITORY, "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONUNBUFFERED": "1"}
            with open(self.workdir / f"agent-{i}.err", "wb") as err:
                agent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env)
            self.agents.append(agent)
            threading.Thread(target=self._read_events, args=(agent,), daemon=True).start()

    def _read_events(self, agent: subprocess.Popen) -> None:
        for line in agent.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.notes.append(f"agent said: {line[:200]!r}")

    def _wait_viewing(self, timeout: float) -> None:
        """Until every viewer has had a frame (bounded): faults start on a cluster in use."""
        viewers = self.options.viewers
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if len({e["who"] for e in self.events if e["event"] == "first_frame"}) >= viewers:
                return
            time.sleep(0.5)
        self.notes.append(f"not every viewer had a frame within {timeout:g} s of the start")

    def _note_turbo(self, cluster: HostCluster) -> None:
        """Whether the turbo broadcasts' lone viewers get their images peer to peer between
        hosts, as the slaves count them."""
        try:
            slaves = cluster.masters().status(secret=cluster.secret).slaves
        except FramecastError as exc:
            self.notes.append(f"no status at the end: {exc}")
            return
        turbo = sum(s.turbo_viewers for s in slaves)
        self.notes.append(f"turbo: {turbo} of {self.options.turbo} lone viewers peer to peer at the end")

    def _stop_agents(self) -> None:
        (self.workdir / "stop").touch()
        for agent in self.agents:
            try:
                agent.wait(40)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(10)

    def _sample_memory(self, cluster: HostCluster) -> None:
        while not self.done.wait(2.0):
            for node in cluster.role("master") + cluster.role("slave"):
                if node.running():
                    try:
                        rss = psutil.Process(node.process.pid).memory_info().rss
                    except psutil.Error:
                        continue
                    self.memory.setdefault(node.name, []).append(rss)

    # --- faults -----------------------------------------------------------------------------
    def _schedule(self, cluster: HostCluster) -> None:
        """Every kind in a shuffled order, ``rounds`` times or until ``duration`` is spent."""
        o = self.options
        stop_at = time.monotonic() + o.duration
        for _ in range(o.rounds):
            order = list(o.kinds)
            self.rng.shuffle(order)
            while order and time.monotonic() < stop_at:
                batch = [fault(order.pop())]
                if order and self.rng.random() < o.pairs:
                    batch.append(fault(order.pop()))
                self._inject(cluster, batch)

    def _inject(self, cluster: HostCluster, batch: list[Fault]) -> None:
        for one in batch:
            one.hold = min(one.hold, self.options.max_hold)
            self.faults.append(one)
            one.inject(cluster, self.rng)
        time.sleep(max(one.hold for one in batch))
        for one in batch:
            one.heal(cluster)
        time.sleep(self.options.settle)
        give_up = time.monotonic() + RECOVER
        while cluster.live_slaves() < len(cluster.role("slave")) and time.monotonic() < give_up:
            time.sleep(0.5)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
