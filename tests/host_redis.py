"""Redis on host ``db`` of a ``HostCluster`` as a deployment that must survive its loss runs
it: a primary, a replica and three Sentinels (quorum 2) watching them; the masters reach it
through ``sentinel://`` (``master/storage/redis_connect.py``). Which of the two servers is
the primary changes with failovers: ``primary`` asks the Sentinels, and a server started again
comes back as a replica of the current primary (as a supervisor that asks the Sentinels
would start it), never as a second, empty primary.

The Sentinels wait ``DOWN_AFTER_MS`` before they call a primary down: longer than a restart
(``redis_restart`` restarts the primary, empty, without a failover), shorter than a lost
primary (``sentinel_failover`` kills it and the Sentinels promote the replica).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis

from client.errors import FramecastError

SERVICE = "framecast"
SERVER_PORTS = {"redis-1": 6379, "redis-2": 6380}
SENTINEL_PORTS = {"sentinel-1": 26379, "sentinel-2": 26380, "sentinel-3": 26381}
DOWN_AFTER_MS = 4000


class SentinelRedis:
    def __init__(self, cluster):
        self.cluster = cluster
        self.address = cluster.net["db"].address

    @property
    def url(self) -> str:
        sentinels = ",".join(f"{self.address}:{port}" for port in SENTINEL_PORTS.values())
        return f"sentinel://{sentinels}/{SERVICE}/0"

    def start(self) -> None:
        """The primary, its replica, then the Sentinels; back once the Sentinels know both
        servers and one another."""
        first, second = SERVER_PORTS
        self.server(first).start()
        self.server(second, replica_of=SERVER_PORTS[first]).start()
        for name in SENTINEL_PORTS:
            self._sentinel(name).start()
        self.wait(lambda: self._settled(SERVER_PORTS[first]), 30, "the Sentinels did not see both Redis servers")

    def server(self, name: str, replica_of: int | None = None):
        """The node of Redis server ``name`` (made, or its command renewed), a replica of the
        server at port ``replica_of`` if given."""
        folder = self.cluster.workdir / name
        folder.mkdir(exist_ok=True)
        argv = [shutil.which("redis-server"), "--bind", self.address, "--port", str(SERVER_PORTS[name])]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(folder), "--protected-mode", "no"]
        if replica_of is not None:
            argv += ["--replicaof", self.address, str(replica_of)]
        node = self.cluster.nodes.get(name)
        if node is None:
            return self.cluster._node("redis", name, "db", argv, SERVER_PORTS[name])
        node.argv = argv
        return node

    def _sentinel(self, name: str):
        config: Path = self.cluster.workdir / f"{name}.conf"  # Sentinels rewrite their own file
        primary = SERVER_PORTS["redis-1"]
        config.write_text(
            f"bind {self.address}\nport {SENTINEL_PORTS[name]}\nprotected-mode no\n"
            f"sentinel monitor {SERVICE} {self.address} {primary} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} 20000\n"
        )
        argv = [shutil.which("redis-server"), str(config), "--sentinel", "--dir", str(self.cluster.workdir)]
        return self.cluster._node("sentinel", name, "db", argv, SENTINEL_PORTS[name])

    # --- what the Sentinels say -----------------------------------------------------------
    def _ask(self, port: int, question):
        """``question(client)`` of the server or Sentinel at ``port``."""
        client = redis.Redis(self.address, port, socket_timeout=1, decode_responses=True)
        try:
            return question(client)
        finally:
            client.close()

    def primary(self) -> str | None:
        """The server the Sentinels' majority names the primary (None: no majority)."""
        named = []
        for port in SENTINEL_PORTS.values():
            try:
                host, server_port = self._ask(port, lambda s: s.sentinel_get_master_addr_by_name(SERVICE))
            except (redis.RedisError, TypeError, ValueError):
                continue
            named += [name for name, known in SERVER_PORTS.items() if known == int(server_port)]
        majority = [name for name in SERVER_PORTS if named.count(name) >= 2]
        return majority[0] if majority else None

    def role(self, name: str) -> str | None:
        try:
            return self._ask(SERVER_PORTS[name], lambda server: server.role()[0])
        except redis.RedisError:
            return None

    def _settled(self, primary_port: int) -> bool:
        """Every Sentinel sees the primary at ``primary_port``, a replica and 2 other Sentinels."""
        for port in SENTINEL_PORTS.values():
            try:
                state = self._ask(port, lambda sentinel: sentinel.sentinel_master(SERVICE))
            except redis.RedisError:
                return False
            ready = state["port"] == primary_port and state["flags"] == "master"
            if not ready or state["num-slaves"] != 1 or state["num-other-sentinels"] != 2:
                return False
        return True

    def replica_in_sync(self, name: str) -> bool:
        try:
            info = self._ask(SERVER_PORTS[name], lambda server: server.info("replication"))
        except redis.RedisError:
            return False
        return info.get("role") == "slave" and info.get("master_link_status") == "up"

    # --- faults -----------------------------------------------------------------------------
    def restart(self, name: str, down: float) -> None:
        """``name`` killed (-9) and, ``down`` seconds later, started again: as a replica of the
        current primary if that is the other server, else as the primary it was."""
        node = self.cluster.nodes[name]
        node.kill()
        time.sleep(down)
        self.rejoin(name)

    def rejoin(self, name: str) -> None:
        primary = self.primary()
        other = primary if primary not in (None, name) else None
        self.server(name, replica_of=SERVER_PORTS[other] if other else None).start()

    def fail_over(self, timeout: float = 45) -> tuple[str, str]:
        """The primary killed (-9); the Sentinels promote the replica; the old primary comes
        back as its replica. (old, new) primary."""
        old = self.primary()
        if old is None:
            raise FramecastError("the Sentinels name no primary")
        self.cluster.nodes[old].kill()
        new = self.wait(lambda: _other(old) if self.primary() == _other(old) else None, timeout, "no failover")
        self.rejoin(old)
        self.wait(lambda: self.replica_in_sync(old), timeout, f"{old} did not follow {new}")
        return old, new

    @staticmethod
    def wait(condition, timeout: float, failure: str):
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            found = condition()
            if found:
                return found
            time.sleep(0.2)
        raise FramecastError(f"{failure} within {timeout:g} s")


def _other(name: str) -> str:
    return next(other for other in SERVER_PORTS if other != name)
