"""A loaded cluster for the operations benchmarks: B broadcasts with V viewers each.

Starts a real local cluster (HAProxy, masters, slaves, the machine's Redis and PostgreSQL,
with a key prefix and database of its own), then runs broadcasters and viewers from the
client library in threads, recording every frame's arrival time and the slave it came from.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client.broadcaster import Broadcaster  # noqa: E402
from cli.local_cluster import LocalCluster, free_port  # noqa: E402
from client.connection import use_tls  # noqa: E402
from client.masters import Masters  # noqa: E402
from client.sources import TestPattern  # noqa: E402
from client.viewer import Viewer  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class Stopped(Exception):
    """Raised inside a broadcaster's loop to end it cleanly."""


@dataclass
class Watcher:
    name: str
    target: str
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # (time, slave address)
    error: str = ""


use_tls(None)  # the cluster runs --insecure


class LoadedCluster:
    def __init__(self, broadcasts: int, viewers: int, slaves: int = 3, fps: float = 10, size=(512, 96)):
        self.tag = uuid.uuid4().hex[:8]
        self.cluster = LocalCluster(
            masters=2,
            slaves=slaves,
            port=free_port(),
            redis_prefix=f"fcbench-{self.tag}:",
            database=f"postgresql://postgres@127.0.0.1:5432/fcbench_{self.tag}",
            workdir=Path(tempfile.mkdtemp(prefix="fcbench-")),
            proxy_protocol=False,  # the benchmarks also talk to masters directly
            tls=False,  # --insecure: the hot path measured as GStreamer's plain TCP
        )
        self.broadcasts, self.viewers, self.fps, self.size = broadcasts, viewers, fps, size
        self.stop = threading.Event()
        self.watchers: list[Watcher] = []
        self.threads: list[threading.Thread] = []

    def start(self) -> "LoadedCluster":
        self.cluster.start()
        masters = Masters(self.cluster.server)
        for i in range(self.broadcasts):
            self._user(masters, f"star{i}")
            self._spawn(self._broadcast, f"star{i}")
        wait_for(lambda: len(self.placement()) == self.broadcasts, 20)
        for i in range(self.broadcasts):
            for j in range(self.viewers):
                watcher = Watcher(f"fan{i}x{j}", f"star{i}")
                self._user(masters, watcher.name)
                self.watchers.append(watcher)
                self._spawn(self._watch, watcher)
        wait_for(lambda: all(w.arrivals for w in self.watchers), 30)
        return self

    def _user(self, masters: Masters, name: str) -> None:
        masters.register(name, "password")
        self.tokens = getattr(self, "tokens", {})
        self.tokens[name] = masters.login(name, "password").token

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _broadcast(self, user: str) -> None:
        def stop_when_asked(broadcaster: Broadcaster) -> None:
            if self.stop.is_set():
                raise Stopped

        broadcaster = Broadcaster(
            Masters(self.cluster.server),
            self.tokens[user],
            TestPattern(*self.size),
            quality=3,
            fps=self.fps,
            each_frame=stop_when_asked,
        )
        try:
            broadcaster.run()
        except Stopped:
            pass

    def _watch(self, watcher: Watcher) -> None:
        viewer = Viewer(Masters(self.cluster.server), self.tokens[watcher.name], watcher.target)
        viewer.on_frame = lambda info, image: watcher.arrivals.append((time.monotonic(), viewer.stats.slave))
        try:
            viewer.run(keep_going=lambda: not self.stop.is_set())
        except Exception as exc:  # recorded as a lost session
            watcher.error = str(exc)

    def placement(self) -> dict[str, str]:
        status = Masters(self.cluster.server).status(secret=self.cluster.secret)
        return {b.user: b.slave for b in status.broadcasts if b.confirmed}

    def busiest_slave(self) -> tuple[str, int, str, list[Watcher]]:
        """The slave carrying the most broadcasts: its id, their number, its address, and
        the watchers it is feeding now."""
        slave, carried = Counter(self.placement().values()).most_common(1)[0]
        address = self.cluster.node(slave).client_addr
        return slave, carried, address, [w for w in self.watchers if w.arrivals[-1][1] == address]

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)
        self.cluster.stop()
        client = redis.Redis()
        keys = list(client.scan_iter(match=f"fcbench-{self.tag}:*"))
        if keys:
            client.delete(*keys)
        conn = psycopg2.connect(PG_ADMIN)
        conn.autocommit = True
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "fcbench_{self.tag}" WITH (FORCE)')
        conn.close()


def wait_for(predicate, timeout: float = 20) -> None:
    give_up = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > give_up:
            raise RuntimeError("the cluster did not reach the expected state")
        time.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")
