"""Fixtures that start real framecast clusters against the real Redis and PostgreSQL.

Each cluster gets its own Redis key prefix and its own PostgreSQL database, so tests never
see each other's users or sessions, and both are removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg2
import pytest
import redis

from cli.local_cluster import FRAMECAST, LocalCluster, free_port
from client.connection import use_tls

# In this process, clients talk plain TCP to the test clusters, which run --insecure unless a
# test asks for TLS (``start_cluster(tls=True)``, what ``framecast up`` runs) and gives its
# clients the cluster's CA.
use_tls(None)

REDIS_URL = os.environ.get("FRAMECAST_TEST_REDIS", "redis://127.0.0.1:6379/0")
PG_ADMIN = os.environ.get("FRAMECAST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def drop_database(name: str) -> None:
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def clear_redis(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


def start_cluster(tmp: Path, **options) -> LocalCluster:
    """A cluster of its own Redis prefix and database; --insecure unless ``tls=True``."""
    tag = uuid.uuid4().hex[:10]
    options.setdefault("redis_url", REDIS_URL)
    options.setdefault("tls", False)
    options.setdefault("database", PG_ADMIN.rsplit("/", 1)[0] + f"/fctest_{tag}")
    cluster = LocalCluster(
        port=free_port(),
        web_port=free_port(),
        redis_prefix=f"fctest-{tag}:",
        workdir=tmp,
        **options,
    )
    return cluster.start()


def stop_cluster(cluster: LocalCluster) -> None:
    cluster.stop()
    drop_database(cluster.database.rsplit("/", 1)[1])
    clear_redis(cluster.redis_prefix)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """HAProxy, 2 masters and 2 slaves, shared by the tests of one module."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    stop_cluster(cluster)


@pytest.fixture
def own_cluster(tmp_path):
    """A cluster of this test's own, for tests that kill its processes."""
    started: list[LocalCluster] = []

    def start(**options) -> LocalCluster:
        started.append(start_cluster(tmp_path / f"cluster{len(started)}", **options))
        return started[-1]

    yield start
    for cluster in started:
        stop_cluster(cluster)


class Cli:
    """Runs the ``framecast`` command as a user would, with a home of its own; ``operator``
    runs it as an operator (with the cluster secret)."""

    def __init__(self, server: str, home: Path, secret: str = "", ca: str = "", insecure: bool | None = None):
        self.server = server
        self.home = home
        self.secret = secret
        self.ca = ca  # the cluster's CA certificate, when it serves TLS
        self.insecure = not ca if insecure is None else insecure  # --insecure: plain TCP

    def env(self) -> dict[str, str]:
        env = {**os.environ, "FRAMECAST_SERVER": self.server, "FRAMECAST_HOME": str(self.home)}
        if self.ca:
            env["FRAMECAST_CA"] = self.ca
        return {**env, "FRAMECAST_INSECURE": "1"} if self.insecure else env

    def argv(self, *args: str) -> list[str]:
        return [*FRAMECAST, *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args), env=self.env(), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )

    def start(self, *args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
        return subprocess.Popen(
            self.argv(*args), env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=stdin
        )

    def ok(self, *args: str, timeout: float = 60) -> str:
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, f"framecast {' '.join(args)} failed: {result.stderr}"
        return result.stdout

    def operator(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**self.env(), "FRAMECAST_SECRET": self.secret}
        return subprocess.run(
            self.argv(*args), env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )


def register_users(cluster: LocalCluster, home: Path, *names: str) -> list[Cli]:
    """Registered, logged-in users of ``cluster``, each with a home of its own under ``home``."""
    clis = []
    for name in names:
        cli = Cli(cluster.server, home / f"home-{name}", cluster.secret, cluster.ca)
        cli.ok("register", name, "--password", f"password-{name}")
        cli.ok("login", name, "--password", f"password-{name}")
        clis.append(cli)
    return clis


@pytest.fixture
def user(cluster, tmp_path):
    """Make a registered, logged-in user on the module's cluster: user('alice') -> Cli."""

    def make(name: str) -> Cli:
        return register_users(cluster, tmp_path, name)[0]

    return make


def cluster_status(cli: Cli) -> dict:
    """The operators' cluster status document, as ``framecast status --json`` prints it."""
    result = cli.operator("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def slave_row(cli: Cli, slave_id: str) -> dict:
    return next(s for s in cluster_status(cli)["slaves"] if s["id"] == slave_id)


def broadcast_slaves(cli: Cli) -> dict[str, str]:
    """Confirmed broadcasts: user -> slave id."""
    return {b["user"]: b["slave"] for b in cluster_status(cli)["broadcasts"] if b["confirmed"]}


def broadcast_entry(cli: Cli, user: str) -> dict | None:
    return next((b for b in cluster_status(cli)["broadcasts"] if b["user"] == user and b["confirmed"]), None)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def wait_until(predicate, timeout: float, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class Running:
    """A framecast process whose stderr lines are collected as they come, and whose stdin
    can be typed into."""

    def __init__(self, cli, *args):
        self.process = cli.start(*args, stdin=subprocess.PIPE)
        self.lines: list[str] = []
        self.out: list[str] = []
        threading.Thread(target=self._collect, args=(self.process.stderr, self.lines), daemon=True).start()
        threading.Thread(target=self._collect, args=(self.process.stdout, self.out), daemon=True).start()

    @staticmethod
    def _collect(stream, into):
        for line in stream:
            into.append(line.rstrip("\n"))

    def saw(self, text, timeout=15):
        return wait_until(lambda: any(text in line for line in self.lines), timeout)

    def type(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def json(self):
        return [json.loads(line) for line in list(self.out) if line.startswith("{")]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(10)


def broadcasting(cli, user, *args):
    caster = Running(cli, "broadcast", "--duration", "60", *args)
    wait_until(lambda: broadcast_entry(cli, user), 15)
    return caster


def metric(cluster, node: str, name: str) -> float:
    """One value of a node's /metrics (by its name in the local cluster)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{cluster.node(node).ports['metrics']}/metrics", timeout=5)
    for line in text.read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in {node}'s metrics")
