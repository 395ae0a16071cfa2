"""A framecast cluster whose nodes are on hosts of their own (``tests/hosts.py``), started with
the commands a real multi-host deployment runs: Redis (a primary, a replica and three
Sentinels: ``tests/host_redis.py``) and PostgreSQL on host ``db``, HAProxy
on ``lb`` (passing TLS through, with the PROXY protocol), ``framecast master`` on
``master-1``, ``master-2``, ``framecast slave`` on ``slave-1`` ... each listening on its own
address at the default ports. Certificates come from a CA made for the run, as a company's
own CA would sign them: it may sign for the cluster's network only, each master's
certificate names its address and the load balancer's (the name clients connect to), each
slave's its own. Clients run on other hosts (``add_clients``).

Nodes are restarted with the same command after a fault (as compose's ``restart`` would).
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cli import haproxy
from cli.local_cluster import FRAMECAST
from client.errors import FramecastError
from client.masters import Masters
from common.keys import slave_settings
from common.messages.cluster import SlaveState
from common.tls import TlsFiles, client_context, self_signed, signed_certificate
from tests.host_redis import SentinelRedis
from tests.hosts import Host, Network

PORTS = {"master": {"client": 5101, "slave": 5201, "metrics": 9101, "web": 8101}}
PORTS["slave"] = {"client": 5301, "metrics": 9301, "web": 8301}
LB_CLIENT, LB_WEB, PG_PORT, DELAY_PORT = 5100, 8100, 5432, 6101
REPOSITORY = str(Path(__file__).resolve().parent.parent)


@dataclass
class HostNode:
    role: str  # master, slave, redis, sentinel, postgres, haproxy, proxy
    name: str
    host: Host
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None
    port: int = 0  # the port it is ready once it accepts on

    def start(self, wait: float = 30) -> "HostNode":
        self.process = self.host.popen(self.argv, self.log, env=self.env)
        if self.port:
            wait_for(self.host.address, self.port, wait, self)
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.running():
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def wait_for(address: str, port: int, timeout: float, node: HostNode | None = None) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if node is not None and not node.running():
            raise FramecastError(f"{node.name} exited with status {node.process.returncode} while starting")
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise FramecastError(f"{address}:{port} did not answer within {timeout:g} s")


class HostCluster:
    def __init__(self, workdir: Path, masters: int = 2, slaves: int = 3, master_args=(), slave_args=()):
        """The last master is reached through ``tests/delay_proxy.py`` (latency set by
        ``set_latency``); the last slave logs to a small tmpfs (``log_disk``)."""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.net = Network()
        self.secret = secrets.token_urlsafe(32)
        self.counts = (masters, slaves)
        self.master_args, self.slave_args = list(master_args), list(slave_args)
        self.nodes: dict[str, HostNode] = {}
        self.clients: list[Host] = []

    # --- addresses ------------------------------------------------------------------------
    @property
    def server(self) -> str:
        return f"{self.net['lb'].address}:{LB_CLIENT}"

    @property
    def web(self) -> str:
        return f"https://{self.net['lb'].address}:{LB_WEB}"

    @property
    def redis_url(self) -> str:
        return self.redis.url

    @property
    def database(self) -> str:
        return f"postgresql://postgres@{self.net['db'].address}:{PG_PORT}/framecast"

    def role(self, role: str) -> list[HostNode]:
        return [n for n in self.nodes.values() if n.role == role]

    # --- start and stop -------------------------------------------------------------------
    def start(self) -> "HostCluster":
        try:
            for name in ["db", "lb", *(f"master-{i + 1}" for i in range(self.counts[0]))]:
                self.net.add(name)
            for i in range(self.counts[1]):
                self.net.add(f"slave-{i + 1}")
            self._certificates()
            self.log_disk = self.net.small_disk(self.workdir / "small-disk")
            self.redis = SentinelRedis(self)
            self.redis.start()
            self._postgres()
            for i in range(self.counts[0]):
                self._master(f"master-{i + 1}").start()
            self._delay_proxy().start()
            self._haproxy().start()
            for i in range(self.counts[1]):
                self._slave(f"slave-{i + 1}").start()
            self.wait_live_slaves(self.counts[1])
        except BaseException:
            self.stop()
            raise
        return self

    def add_clients(self, count: int) -> list[Host]:
        self.clients += [self.net.add(f"client-{len(self.clients) + i + 1}") for i in range(count)]
        return self.clients[-count:]

    def stop(self) -> None:
        for node in reversed(list(self.nodes.values())):
            if node.role == "postgres":
                self.stop_postgres()
                shutil.rmtree(self.pg_data.parent, ignore_errors=True)
            else:
                node.kill(signal.SIGINT if node.role == "slave" else signal.SIGTERM)
        self.net.close()

    def wait_live_slaves(self, count: int, timeout: float = 60) -> None:
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if self.live_slaves() >= count:
                return
            time.sleep(0.2)
        raise FramecastError(f"fewer than {count} slaves reported live within {timeout:g} s")

    def live_slaves(self) -> int:
        try:
            status = self.masters().status(secret=self.secret)
        except FramecastError:
            return 0
        return sum(s.state == SlaveState.LIVE for s in status.slaves)

    def masters(self) -> Masters:
        return Masters(self.server, timeout=5, tls=client_context(str(self.ca)))

    # --- certificates ---------------------------------------------------------------------
    def _certificates(self) -> None:
        """The run's CA, constrained to the cluster's network, and each server's certificate."""
        folder = self.workdir / "tls"
        folder.mkdir(exist_ok=True)
        names = x509.NameConstraints([x509.IPAddress(self.net.subnet)], None)
        ca, key = self_signed("framecast hosts CA", datetime.timedelta(days=2), ca=True, names=names)
        self.ca = folder / "ca.pem"
        self.ca.write_bytes(ca.public_bytes(Encoding.PEM))
        lb = self.net["lb"].address
        self.certs: dict[str, TlsFiles] = {}
        for host in self.net.hosts.values():
            names = [host.address, lb] if host.name.startswith("master") else [host.address]
            self.certs[host.name] = signed_certificate(ca, key, self.ca, folder / host.name, names)

    def tls_args(self, name: str) -> list[str]:
        files = self.certs[name]
        return ["--tls-cert", str(files.cert), "--tls-key", str(files.key)]

    # --- the nodes ------------------------------------------------------------------------
    def _node(self, role: str, name: str, host: str, argv: list[str], port: int, env: dict | None = None) -> HostNode:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": REPOSITORY, **(env or {})}
        log = (self.log_disk if name == f"slave-{self.counts[1]}" else self.workdir) / f"{name}.log"
        node = HostNode(role, name, self.net[host], argv, environment, log, port=port)
        self.nodes[name] = node
        return node

    def _postgres(self) -> None:
        """A private PostgreSQL on host db, trusting the cluster's network (as pg_hba would
        list a deployment's servers)."""
        data = Path(tempfile.mkdtemp(prefix="fchosts-pg-")) / "data"  # a folder PostgreSQL's user can reach
        data.mkdir()
        shutil.chown(data.parent, "postgres")
        shutil.chown(data, "postgres")
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "initdb", "-D", str(data), "-U", "postgres", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.net.subnet} trust\n")
        self.pg_data = data
        self._node("postgres", "postgres", "db", [], PG_PORT)
        self.start_postgres()

    def start_postgres(self) -> None:
        options = f"-p {PG_PORT} -k {self.pg_data} -c listen_addresses={self.net['db'].address} -c max_connections=300"
        log = str(self.pg_data.parent / "postgres.log")
        self.net["db"].run(*self._pg_ctl("-w", "-l", log, "-o", options, "start"))

    def stop_postgres(self, mode: str = "fast") -> None:
        self.net["db"].run(*self._pg_ctl("-m", mode, "stop"), check=False)

    def _pg_ctl(self, *argv: str) -> list[str]:
        """pg_ctl on this cluster's data, as PostgreSQL's own user (it refuses root)."""
        return ["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.pg_data), *argv]

    def _master(self, name: str) -> HostNode:
        host, ports = self.net[name], PORTS["master"]
        argv = [*FRAMECAST, "master", "--id", name, "--host", host.address]
        for option in ("client", "slave", "metrics", "web"):
            argv += [f"--{option}-port", str(ports[option])]
        argv += ["--redis", self.redis_url, "--database", self.database, "--proxy-protocol", *self.tls_args(name)]
        env = {"FRAMECAST_SECRET": self.secret}
        return self._node("master", name, name, argv + self.master_args, ports["client"], env)

    def _slave(self, name: str) -> HostNode:
        host, ports = self.net[name], PORTS["slave"]
        masters = ",".join(f"{m.host.address}:{PORTS['master']['slave']}" for m in self.role("master"))
        argv = [*FRAMECAST, "slave", "--id", name, "--host", host.address, "--port", str(ports["client"])]
        argv += ["--metrics-port", str(ports["metrics"]), "--web-port", str(ports["web"]), "--masters", masters]
        argv += ["--ca", str(self.ca), *self.tls_args(name), *self.slave_args]
        node = self._node("slave", name, name, argv, ports["client"], slave_settings(self.secret))
        node.env.pop("FRAMECAST_SECRET", None)  # slaves hold their keys only
        return node

    def _haproxy(self) -> HostNode:
        lb, masters = self.net["lb"].address, self.role("master")
        config = haproxy.render(
            f"{lb}:{LB_CLIENT}",
            [f"{m.host.address}:{PORTS['master']['client']}" for m in masters[:-1]] + [f"{lb}:{DELAY_PORT}"],
            f"{lb}:{LB_WEB}",
            [f"{m.host.address}:{PORTS['master']['web']}" for m in masters],
        )
        path = self.workdir / "haproxy.cfg"
        path.write_text(config)
        return self._node("haproxy", "haproxy", "lb", [shutil.which("haproxy"), "-f", str(path), "-db"], LB_CLIENT)

    def _delay_proxy(self) -> HostNode:
        """Between HAProxy and the last master: no delay until ``set_latency``."""
        self.delay_file = self.workdir / "latency"
        self.delay_file.write_text("0")
        target = f"{self.role('master')[-1].host.address}:{PORTS['master']['client']}"
        argv = [sys.executable, "-m", "tests.delay_proxy", f"{self.net['lb'].address}:{DELAY_PORT}", target]
        return self._node("proxy", "delay-proxy", "lb", argv + [str(self.delay_file)], DELAY_PORT)

    def set_latency(self, seconds: float) -> None:
        self.delay_file.write_text(f"{seconds:g}")
