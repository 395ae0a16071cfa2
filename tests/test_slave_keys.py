"""``framecast slave-keys`` and what ``framecast slave`` takes, through the real CLI: a slave
is configured with the master key and the slave key, and refuses the cluster secret."""

import os
import subprocess

import pytest

from cli.local_cluster import FRAMECAST
from common import keys


def framecast(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FRAMECAST_")}
    return subprocess.run([*FRAMECAST, *args], env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_slave_keys_prints_the_slaves_settings():
    result = framecast("slave-keys", FRAMECAST_SECRET="the cluster secret")
    assert result.returncode == 0
    assert dict(line.split("=", 1) for line in result.stdout.splitlines()) == keys.slave_settings("the cluster secret")


def test_slave_keys_needs_the_cluster_secret():
    result = framecast("slave-keys")
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0
    assert "no cluster secret" in result.stderr


@pytest.mark.parametrize(
    "env, says",
    [
        ({"FRAMECAST_SECRET": "the cluster secret"}, "a slave must not hold the cluster secret"),
        ({"FRAMECAST_SLAVE_KEY": "k"}, "no master key"),
        ({"FRAMECAST_MASTER_KEY": "not-a-key", "FRAMECAST_SLAVE_KEY": "k"}, "--master-key: not a master key"),
        ({"FRAMECAST_MASTER_KEY": keys.slave_settings("s")["FRAMECAST_MASTER_KEY"]}, "no slave key"),
    ],
)
def test_a_slave_refuses_to_start_without_its_keys_or_with_the_secret(env, says):
    result = framecast("slave", "--insecure", "--port", "0", "--metrics-port", "0", "--web-port", "0", **env)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and says in result.stderr, result.stderr
