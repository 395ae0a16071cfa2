"""2,000 idle connections that never log in cost a slave a bounded amount of memory, leave
its viewers at the full frame rate, and are cut after the login deadline."""

import resource
import socket

import psutil
import pytest

from common.addresses import parse_hostport
from common.messages.accounts import StatusRequest
from common.messaging import AUTH_TIMEOUT
from tests.conftest import Running, broadcast_entry, json_lines, register_users, start_cluster, stop_cluster, wait_until

IDLE = 2000
MAX_GROWTH = 16 * 1024 * 1024  # the stated bound (README): under 8 KiB per idle connection


@pytest.fixture
def one_slave(tmp_path):
    cluster = start_cluster(tmp_path / "cluster", masters=1, slaves=1, use_haproxy=False)
    yield cluster
    stop_cluster(cluster)


def established(process: psutil.Process) -> int:
    return sum(c.status == psutil.CONN_ESTABLISHED for c in process.net_connections(kind="tcp"))


def cut(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536) == b"" or cut(sock)
    except ConnectionError:
        return True


def test_idle_connections_cost_bounded_memory_and_no_frames(one_slave, tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 3 * IDLE)), hard))
    star, fan = register_users(one_slave, tmp_path, "star", "fan")
    node = one_slave.node("slave-1")
    slave = psutil.Process(node.process.pid)
    broadcaster = Running(star, "broadcast", "--fps", "15", "--duration", "60")
    idle: list[socket.socket] = []
    try:
        wait_until(lambda: broadcast_entry(fan, "star"), 20)
        before = slave.memory_info().rss
        half_a_request = StatusRequest().encode()[:7]  # a header cut short: the slave waits for the rest
        for _ in range(IDLE):
            sock = socket.create_connection(parse_hostport(node.client_addr), timeout=AUTH_TIMEOUT + 10)
            sock.sendall(half_a_request)
            idle.append(sock)
        wait_until(lambda: established(slave) >= IDLE, AUTH_TIMEOUT / 2)
        growth = slave.memory_info().rss - before
        lines = json_lines(fan.ok("view", "star", "--json", "--duration", "4"))
        assert established(slave) >= IDLE, "the idle connections were all open while the viewer watched"
    finally:
        broadcaster.stop()
    assert growth < MAX_GROWTH, f"{IDLE} idle connections grew the slave by {growth / 2**20:.1f} MiB"
    steady = lines[1:-1]
    received = steady[-1]["frames"] - steady[0]["frames"]
    offered = steady[-1]["last_seq"] - steady[0]["last_seq"]
    assert received >= 0.95 * offered > 0, f"the viewer got {received} of {offered} frames"
    assert all(cut(sock) for sock in idle[:: IDLE // 20]), "cut after the login deadline"
    for sock in idle:
        sock.close()
    print(f"{IDLE} idle connections: slave RSS +{growth / 2**20:.1f} MiB ({growth / IDLE / 1024:.1f} KiB each)")
