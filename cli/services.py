"""The services a local cluster needs: free ports, Redis and PostgreSQL.

The machine's own Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, user postgres,
trust auth) are used when they answer; otherwise private instances are started from the
installed ``redis-server`` and ``initdb``/``pg_ctl`` in a scratch directory.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg2
import redis

from client.errors import FramecastError

MACHINE_REDIS = "redis://127.0.0.1:6379/0"
MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def _below_the_ephemeral_ports() -> range:
    """Ports the kernel never gives an outgoing connection (Linux's ephemeral range starts
    at 32768 unless configured otherwise)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(max(1024, low - 12000), low)


CANDIDATE_PORTS = _below_the_ephemeral_ports()
_handed_out: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a node to listen on soon. Taken below the ephemeral
    range, so no outgoing connection can take it meanwhile (one did: "Address already in
    use" at a slave's start), and never the same twice in one process."""
    for _ in range(2000):
        port = random.choice(CANDIDATE_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise FramecastError("no free port on 127.0.0.1")


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


def redis_url(workdir: Path, started: list[subprocess.Popen]) -> str:
    """The machine's Redis, or a private one (appended to ``started``)."""
    try:
        redis.Redis.from_url(MACHINE_REDIS, socket_connect_timeout=1).ping()
        return MACHINE_REDIS
    except redis.RedisError:
        pass
    binary = shutil.which("redis-server")
    if binary is None:
        raise FramecastError("no Redis answers on 127.0.0.1:6379 and redis-server is not installed")
    port = free_port()
    argv = [
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
        str(workdir),
    ]
    started.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for_port(port, 10, started[-1], "redis-server")
    return f"redis://127.0.0.1:{port}/0"


def postgres_dsn(workdir: Path) -> tuple[str, Path | None]:
    """The DSN of the cluster's database, and the data folder of a private server if one
    had to be started."""
    try:
        psycopg2.connect(MACHINE_POSTGRES, connect_timeout=2).close()
        return MACHINE_POSTGRES.rsplit("/", 1)[0] + "/framecast", None
    except psycopg2.OperationalError:
        pass
    port = free_port()
    data = start_private_postgres(workdir / "pgdata", port)
    return f"postgresql://postgres@127.0.0.1:{port}/framecast", data


def stop_postgres(data: Path) -> None:
    subprocess.run(
        _as_postgres_user(["pg_ctl", "-D", str(data), "-m", "fast", "stop"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
    start_postgres(data, port)
    return data


def start_postgres(data: Path, port: int) -> None:
    """Start the PostgreSQL of ``data`` (made by ``start_private_postgres``) on ``port``."""
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
