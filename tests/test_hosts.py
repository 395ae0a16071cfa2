"""A cluster whose nodes are on hosts of their own (``tests/host_cluster.py``), driven with the
framecast command from another host, as on a real network: TLS verified against the run's
CA through HAProxy (PROXY protocol), slaves at their own addresses."""

import os
import subprocess

import pytest

from cli.local_cluster import FRAMECAST
from tests.host_cluster import HostCluster
from tests.hosts import unavailable_reason

REASON = unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = HostCluster(tmp_path_factory.mktemp("hosts"), slaves=2)
    try:
        cluster.start()
        cluster.add_clients(1)
        yield cluster
    finally:
        cluster.stop()


def framecast(cluster: HostCluster, home, *args: str, operator: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "FRAMECAST_HOME": str(home), "FRAMECAST_SERVER": cluster.server}
    env["FRAMECAST_CA"] = str(cluster.ca)
    if operator:
        env["FRAMECAST_SECRET"] = cluster.secret
    argv = cluster.clients[0].argv(*FRAMECAST, *args)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_an_operator_on_another_host_sees_every_slave_at_its_own_address(cluster, tmp_path):
    done = framecast(cluster, tmp_path, "status", "--json", operator=True)
    assert done.returncode == 0, done.stderr
    for slave in cluster.role("slave"):
        assert f"{slave.host.address}:5301" in done.stdout


def test_a_user_on_another_host_registers_and_logs_in_over_verified_tls(cluster, tmp_path):
    assert framecast(cluster, tmp_path, "register", "hostuser", "--password", "password-hostuser").returncode == 0
    done = framecast(cluster, tmp_path, "login", "hostuser", "--password", "password-hostuser")
    assert done.returncode == 0, done.stderr
