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
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import redis

from client.errors import FramecastError


FRAMECAST = [sys.executable, "-m", "client.cli"]  # the framecast command, in this Python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None, what: str = "") -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if process is not None and process.poll() is not None:
            raise FramecastError(f"{what or 'process'} exited with status {process.returncode} while starting")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise FramecastError(f"{what or 'a process'} did not open port {port} within {timeout:g} s")


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


@dataclass
class LocalCluster:
    masters: int = 2
    slaves: int = 2
    port: int = 5100
    redis_url: str | None = None
    database: str | None = None
    redis_prefix: str = "fc:"
    workdir: Path | None = None
    use_haproxy: bool = True
    dead_after: float = 3.0
    master_args: list[str] = field(default_factory=list)
    slave_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    services: list[subprocess.Popen] = field(default_factory=list)

    # --- start and stop ---------------------------------------------------------------
    def start(self) -> "LocalCluster":
        self.workdir = Path(self.workdir or tempfile.mkdtemp(prefix="framecast-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secret = secrets.token_urlsafe(32)
        try:
            self.redis_url = self.redis_url or self._redis()
            self.database = self.database or self._postgres()
            for i in range(self.masters):
                self.start_master(i + 1)
            self.haproxy = self._haproxy() if self.use_haproxy else None
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

    def env(self) -> dict[str, str]:
        return {**os.environ, "FRAMECAST_SECRET": self.secret, "PYTHONUNBUFFERED": "1", **self.extra_env}

    def _spawn(self, node: Node) -> Node:
        node.log = self.workdir / f"{node.name}.log"
        with open(node.log, "ab") as log:
            node.process = subprocess.Popen(
                node.argv, env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return node

    def start_master(self, index: int) -> Node:
        ports = {"client": free_port(), "slave": free_port(), "metrics": free_port()}
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
            "--redis",
            self.redis_url,
            "--redis-prefix",
            self.redis_prefix,
            "--database",
            self.database,
            "--dead-after",
            str(self.dead_after),
            *self.master_args,
        ]
        node = self._spawn(Node("master", f"master-{index}", argv, ports))
        self.nodes.append(node)
        wait_for_port(ports["client"], 30, node.process, node.name)
        return node

    def add_slave(self) -> Node:
        index = sum(1 for n in self.nodes if n.role == "slave") + 1
        ports = {"client": free_port(), "metrics": free_port()}
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
            "--masters",
            masters,
            *self.slave_args,
        ]
        node = self._spawn(Node("slave", f"slave-{index}", argv, ports))
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
        self._stop_postgres()

    def wait_live_slaves(self, count: int, timeout: float = 30) -> None:
        """Wait until the masters' table holds ``count`` live slaves."""
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            live = 0
            for slave_id in client.smembers(self.redis_prefix + "slaves"):
                row = client.hgetall(f"{self.redis_prefix}slave:{slave_id}")
                if row.get("state") == "live" and time.time() - float(row.get("heartbeat", 0)) < self.dead_after:
                    live += 1
            if live >= count:
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
        config.write_text(haproxy_config(self.port, [n.ports["client"] for n in masters]))
        process = subprocess.Popen(
            [binary, "-f", str(config), "-db"],
            stdout=open(self.workdir / "haproxy.log", "ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.services.append(process)
        wait_for_port(self.port, 10, process, "haproxy")
        return process

    # --- Redis and PostgreSQL -----------------------------------------------------------
    def _redis(self) -> str:
        url = "redis://127.0.0.1:6379/0"
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            return url
        except redis.RedisError:
            pass
        binary = shutil.which("redis-server")
        if binary is None:
            raise FramecastError("no Redis answers on 127.0.0.1:6379 and redis-server is not installed")
        port = free_port()
        self.services.append(
            subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for_port(port, 10, self.services[-1], "redis-server")
        return f"redis://127.0.0.1:{port}/0"

    def _postgres(self) -> str:
        try:
            psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
            return "postgresql://postgres@127.0.0.1:5432/framecast"
        except psycopg2.OperationalError:
            pass
        self.pg_data = start_private_postgres(self.workdir / "pgdata", port := free_port())
        return f"postgresql://postgres@127.0.0.1:{port}/framecast"

    def _stop_postgres(self) -> None:
        data = getattr(self, "pg_data", None)
        if data is not None:
            subprocess.run(
                _as_postgres_user(["pg_ctl", "-D", str(data), "-m", "fast", "stop"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


def haproxy_config(port: int, master_ports: list[int]) -> str:
    servers = "\n".join(f"    server master{i} 127.0.0.1:{p} check" for i, p in enumerate(master_ports, 1))
    return f"""global
    maxconn 8000

defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    retries 3
    option redispatch

frontend clients
    bind 127.0.0.1:{port}
    default_backend masters

backend masters
    balance roundrobin
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
{servers}
"""


def _as_postgres_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; run its tools as the postgres user then."""
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def start_private_postgres(data: Path, port: int) -> Path:
    """initdb and start a throw-away PostgreSQL on ``port`` with trust auth."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            raise FramecastError(f"no PostgreSQL answers on 127.0.0.1:5432 and {tool} is not installed")
    data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        shutil.chown(data.parent, "postgres")
    subprocess.run(
        _as_postgres_user(["initdb", "-D", str(data), "-U", "postgres", "--auth=trust"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        _as_postgres_user(
            [
                "pg_ctl",
                "-D",
                str(data),
                "-w",
                "-l",
                str(data / "server.log"),
                "-o",
                f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return data
