"""Masters work with Redis Sentinel: a private Redis master, its replica and a Sentinel; the
Redis master is killed, the Sentinel promotes the replica, and the framecast master goes on
placing broadcasts and recording heartbeats on the new one."""

import json
import subprocess
import time

import pytest
import redis

from cli.local_cluster import free_port
from client.masters import Masters
from common.errors import ConfigError
from master.storage.redis_connect import parse_sentinel_url, redis_connector
from tests.conftest import register_users, start_cluster, stop_cluster, wait_until

SERVICE = "framecast"


def redis_server(workdir, port, *args):
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def role(port):
    try:
        return redis.Redis(port=port, socket_timeout=1).info("replication")["role"]
    except redis.RedisError:
        return None


@pytest.fixture
def sentinel_redis(tmp_path):
    """(sentinel URL, master port, replica port, processes by name)."""
    master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {sentinel_port}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 1000\n"
        f"sentinel failover-timeout {SERVICE} 10000\n"
    )
    processes = {"master": redis_server(tmp_path, master_port)}
    wait_until(lambda: role(master_port) == "master", 10)
    processes["replica"] = redis_server(tmp_path, replica_port, "--replicaof", "127.0.0.1", str(master_port))
    processes["sentinel"] = subprocess.Popen(
        ["redis-server", str(config), "--sentinel", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sentinel = redis.Redis(port=sentinel_port, socket_timeout=1, decode_responses=True)
    wait_until(lambda: _replicas_known(sentinel), 20)
    yield f"sentinel://127.0.0.1:{sentinel_port}/{SERVICE}", master_port, replica_port, processes
    for process in processes.values():
        process.kill()
        process.wait(10)


def _replicas_known(sentinel) -> bool:
    try:
        return any(r.get("flags") == "slave" for r in sentinel.sentinel_slaves(SERVICE))
    except redis.RedisError:
        return False


def test_a_master_keeps_working_after_redis_fails_over(sentinel_redis, tmp_path):
    url, master_port, replica_port, processes = sentinel_redis
    cluster = start_cluster(tmp_path / "cluster", masters=1, slaves=1, use_haproxy=False, redis_url=url)
    try:
        (alice,) = register_users(cluster, tmp_path, "alice")
        token = json.loads((alice.home / "credentials.json").read_text())["token"]
        assert Masters(cluster.server).broadcast_redirect(token, "session-alice").slave_id == "slave-1"
        processes["master"].kill()
        processes["master"].wait(10)
        wait_until(lambda: role(replica_port) == "master", 30)
        promoted = redis.Redis(port=replica_port, decode_responses=True)
        key = cluster.redis_prefix + "slave-state"
        seen = time.time()
        wait_until(lambda: float(promoted.hget(key, "heartbeat:slave-1") or 0) > seen, 20)
        redirect = wait_until(lambda: _placed(cluster, token), 20)
        assert redirect.slave_id == "slave-1"
        assert json.loads(promoted.hget(cluster.redis_prefix + "broadcasts", "alice"))["session"] == "session-alice"
    finally:
        stop_cluster(cluster)


def _placed(cluster, token):
    try:
        return Masters(cluster.server).broadcast_redirect(token, "session-alice")
    except Exception:  # the store is unavailable until the master's pool follows the failover
        return None


def test_sentinel_urls_are_checked_before_anything_starts():
    assert parse_sentinel_url("sentinel://a:1,b:2/svc/3") == ([("a", 1), ("b", 2)], "svc", 3)
    assert parse_sentinel_url("sentinel://a/svc") == ([("a", 26379)], "svc", 0)
    for bad in ("sentinel://a:1", "sentinel://a:x/svc", "sentinel://a:1/svc/x", "nosuch://a"):
        with pytest.raises(ConfigError, match="bad --redis"):
            redis_connector(bad)
