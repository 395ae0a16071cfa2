"""A whole framecast cluster on this machine (``framecast up``, feature O2).

Starts HAProxy (when installed) in front of M masters, N slaves, and uses the Redis and
PostgreSQL already running on 127.0.0.1 when they answer, or starts private instances
from the installed ``redis-server`` and ``initdb``/``pg_ctl`` in a scratch directory. The
tests drive the same class, so what ``framecast up`` runs is what the tests run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cli import haproxy, services
from cli.services import free_port, wait_for_port
from client.errors import FramecastError
from client.masters import Masters
from common.keys import slave_settings
from common.messages.cluster import SlaveState
from common.tls import client_context, local_certificates


FRAMECAST = [sys.executable, "-m", "cli"]  # the framecast command, in this Python


@dataclass
class Node:
    role: str
    name: str
    argv: list[str]
    ports: dict[str, int]
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def client_addr(self) -> str:
        return f"127.0.0.1:{self.ports['client']}"

    def exit_code(self) -> int | None:
        """None while the node runs (or has not started)."""
        return None if self.process is None else self.process.poll()


@dataclass
class LocalCluster:
    masters: int = 2
    slaves: int = 2
    port: int = 5100
    web_port: int = 8100  # the web front: HAProxy's, or else the first master's
    redis_url: str | None = None
    database: str | None = None
    redis_prefix: str = "fc:"
    workdir: Path | None = None
    use_haproxy: bool = True
    proxy_protocol: bool = True  # HAProxy passes client addresses (masters then need it in front)
    tls: bool = True  # every port TLS (``tls_files``); False runs every node --insecure
    ca_folder: Path | None = None  # the local CA that signs this cluster's certificate (default: workdir/tls)
    dead_after: float = 3.0
    master_args: list[str] = field(default_factory=list)
    slave_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    services: list[subprocess.Popen] = field(default_factory=list)
    pg_data: Path | None = None

    # --- start and stop ---------------------------------------------------------------
    def start(self) -> "LocalCluster":
        self.use_haproxy = self.use_haproxy and shutil.which("haproxy") is not None
        self.workdir = Path(self.workdir or tempfile.mkdtemp(prefix="framecast-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secret = secrets.token_urlsafe(32)
        self.tls_files = self._certificates() if self.tls else None
        try:
            self.redis_url = self.redis_url or services.redis_url(self.workdir, self.services)
            if self.database is None:
                self.database, self.pg_data = services.postgres_dsn(self.workdir)
            for i in range(self.masters):
                self.start_master(i + 1)
            self.haproxy = self._haproxy() if self.use_haproxy else None
            self.proxy_protocol = self.proxy_protocol and self.haproxy is not None
            for _ in range(self.slaves):
                self.add_slave()
            self.wait_live_slaves(self.slaves)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def server(self) -> str:
        """The address clients use: HAProxy's, or else the list of masters."""
        if self.haproxy is not None:
            return f"127.0.0.1:{self.port}"
        return ",".join(n.client_addr for n in self.nodes if n.role == "master" and self.is_running(n))

    @property
    def web(self) -> str:
        """The web front's address on this machine (the page; /watch/USER.mjpg and
        /snapshot/USER.jpg): plain HTTP from loopback even with TLS (``common/web_tls.py``)."""
        return f"http://127.0.0.1:{self.web_port}/"

    @property
    def secure_web(self) -> str:
        """The web front over HTTPS (the certificate is for localhost and 127.0.0.1)."""
        return f"https://localhost:{self.web_port}/"

    @property
    def ca(self) -> str:
        """The CA certificate clients verify this cluster with ("" without TLS)."""
        return str(self.tls_files.ca) if self.tls_files else ""

    def _certificates(self):
        """A certificate for this host, signed by the local CA (made on first use)."""
        tls = self.workdir / "tls"
        return local_certificates(self.ca_folder or tls, tls, ["localhost", "127.0.0.1"])

    def tls_args(self, role: str) -> list[str]:
        if self.tls_files is None:
            return ["--insecure"]
        files = self.tls_files
        return [
            "--tls-cert",
            str(files.cert),
            "--tls-key",
            str(files.key),
            *(["--ca", self.ca] if role == "slave" else []),
        ]

    def env(self, role: str) -> dict[str, str]:
        """A node's environment: masters get the cluster secret, slaves only their keys."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        if role == "master":
            return {**env, "FRAMECAST_SECRET": self.secret}
        env.pop("FRAMECAST_SECRET", None)
        return {**env, **slave_settings(self.secret)}

    def slave_key_args(self) -> list[str]:
        """How a slave started by hand joins this cluster: the master key, and the slave key
        in a file only this user can read (in the work folder)."""
        settings = slave_settings(self.secret)
        key_file = self.workdir / "slave-key"
        with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
            file.write(settings["FRAMECAST_SLAVE_KEY"])
        return ["--master-key", settings["FRAMECAST_MASTER_KEY"], "--slave-key-file", str(key_file)]

    def spawn(self, node: Node) -> Node:
        """Start ``node``'s process (again, after it exited: same options and ports)."""
        node.log = self.workdir / f"{node.name}.log"
        with open(node.log, "ab") as log:
            node.process = subprocess.Popen(
                node.argv, env=self.env(node.role), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return node

    def start_master(self, index: int) -> Node:
        ports = {"client": free_port(), "slave": free_port(), "metrics": free_port()}
        ports["web"] = self.web_port if index == 1 and not self.use_haproxy else free_port()
        argv = [
            *FRAMECAST,
            "master",
            "--id",
            f"master-{index}",
            "--client-port",
            str(ports["client"]),
            "--slave-port",
            str(ports["slave"]),
            "--metrics-port",
            str(ports["metrics"]),
            "--web-port",
            str(ports["web"]),
            "--redis",
            self.redis_url,
            "--redis-prefix",
            self.redis_prefix,
            "--database",
            self.database,
            "--dead-after",
            str(self.dead_after),
            *(["--proxy-protocol"] if self.use_haproxy and self.proxy_protocol else []),
            *self.tls_args("master"),
            *self.master_args,
        ]
        node = self.spawn(Node("master", f"master-{index}", argv, ports))
        self.nodes.append(node)
        wait_for_port(ports["client"], 30, node.process, node.name)
        return node

    def add_slave(self) -> Node:
        index = sum(1 for n in self.nodes if n.role == "slave") + 1
        ports = {"client": free_port(), "metrics": free_port(), "web": free_port()}
        masters = ",".join(f"127.0.0.1:{n.ports['slave']}" for n in self.nodes if n.role == "master")
        argv = [
            *FRAMECAST,
            "slave",
            "--id",
            f"slave-{index}",
            "--port",
            str(ports["client"]),
            "--metrics-port",
            str(ports["metrics"]),
            "--web-port",
            str(ports["web"]),
            "--masters",
            masters,
            *self.tls_args("slave"),
            *self.slave_args,
        ]
        node = self.spawn(Node("slave", f"slave-{index}", argv, ports))
        self.nodes.append(node)
        wait_for_port(ports["client"], 30, node.process, node.name)
        return node

    def stop(self) -> None:
        """Stop everything at once (slaves get SIGINT: SIGTERM would drain them first)."""
        for node in reversed(self.nodes):
            if self.is_running(node):
                node.process.send_signal(signal.SIGINT if node.role == "slave" else signal.SIGTERM)
        for process in self.services:
            if process.poll() is None:
                process.terminate()
        for proc in [n.process for n in self.nodes if n.process] + self.services:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.pg_data is not None:
            services.stop_postgres(self.pg_data)

    def wait_live_slaves(self, count: int, timeout: float = 30) -> None:
        """Wait until the cluster status shows ``count`` live slaves."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            try:
                tls = client_context(self.ca) if self.tls_files else False
                status = Masters(self.server, tls=tls).status(secret=self.secret)
            except FramecastError:
                status = None
            if status is not None and sum(s.state == SlaveState.LIVE for s in status.slaves) >= count:
                return
            time.sleep(0.1)
        raise FramecastError(f"fewer than {count} slaves reported live within {timeout:g} s")

    # --- faults -----------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        node = self.node(name)
        node.process.send_signal(sig)
        node.process.wait(10)

    @staticmethod
    def is_running(node: Node) -> bool:
        return node.process is not None and node.process.poll() is None

    # --- HAProxy ----------------------------------------------------------------------
    def _haproxy(self) -> subprocess.Popen | None:
        binary = shutil.which("haproxy")
        if binary is None:
            return None
        masters = [n for n in self.nodes if n.role == "master"]
        config = self.workdir / "haproxy.cfg"
        config.write_text(
            haproxy.local(
                self.port,
                [n.ports["client"] for n in masters],
                self.web_port,
                [n.ports["web"] for n in masters],
                self.proxy_protocol,
            )
        )
        process = subprocess.Popen(
            [binary, "-f", str(config), "-db"],
            stdout=open(self.workdir / "haproxy.log", "ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.services.append(process)
        wait_for_port(self.port, 10, process, "haproxy")
        return process
