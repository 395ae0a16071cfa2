"""Faults: kill -9 of a slave or a master while users are on the cluster (C1, C6)."""

import json
import signal
import time

from tests.conftest import Cli, broadcast_entry, cluster_status, json_lines, register_users, wait_until


def receiving(broadcaster, for_at_least=2.0):
    """The viewers that have watched for a while and got frames in the last second, as the
    broadcaster's viewer list says."""
    rows = json.loads(broadcaster.ok("viewers", "--json"))
    return {row["user"] for row in rows if row["fps"] > 0 and time.time() - row["since"] > for_at_least}


def test_kill_9_of_the_slave_holding_a_broadcast(own_cluster, tmp_path):
    cluster = own_cluster(masters=2, slaves=2)
    alice, bob, carol = register_users(cluster, tmp_path, "alice", "bob", "carol")
    broadcaster = alice.start("broadcast", "--fps", "15", "--duration", "40")
    entry = wait_until(lambda: broadcast_entry(bob, "alice"), 15)
    viewers = [v.start("view", "alice", "--json", "--duration", "16") for v in (bob, carol)]
    wait_until(lambda: receiving(alice) == {"bob", "carol"}, 15)
    cluster.kill(entry["slave"], signal.SIGKILL)
    killed_at = time.time()
    outputs = [v.communicate(timeout=60) for v in viewers]
    moved = broadcast_entry(bob, "alice")
    broadcaster.terminate()
    broadcaster.wait(10)

    assert moved and moved["slave"] != entry["slave"]
    status = cluster_status(bob)
    assert {s["id"]: s["state"] for s in status["slaves"]}[entry["slave"]] == "dead"
    for stdout, stderr in outputs:
        lines = json_lines(stdout)
        before = [line for line in lines if line["slave"] == entry["addr"]]
        after = [line for line in lines if line["slave"] == moved["addr"] and line["time"] > killed_at]
        assert before and after, stderr
        assert after[-1]["last_seq"] > before[-1]["last_seq"], "frames flow again from the new slave"
        assert after[-1]["last_frame_time"] > killed_at
        assert after[-1]["reconnects"] >= 1


def test_kill_9_of_a_master(own_cluster, tmp_path):
    cluster = own_cluster(masters=2, slaves=2)
    alice, bob = register_users(cluster, tmp_path, "alice", "bob")
    broadcaster = alice.start("broadcast", "--fps", "10", "--duration", "40")
    wait_until(lambda: broadcast_entry(bob, "alice"), 15)
    cluster.kill("master-1", signal.SIGKILL)
    try:
        for attempt in range(5):  # every new connection goes through HAProxy to the live master
            carol = Cli(cluster.server, tmp_path / f"home-carol{attempt}")
            carol.ok("register", f"carol{attempt}", "--password", "password")
            carol.ok("login", f"carol{attempt}", "--password", "password")
            lines = json_lines(carol.ok("view", "alice", "--json", "--frames", "10", timeout=30))
            assert lines[-1]["frames"] == 10
        cluster.wait_live_slaves(2)  # the slaves' links moved to the live master
        status = cluster_status(bob)
        assert {m["id"]: m["state"] for m in status["masters"]} == {"master-1": "dead", "master-2": "live"}
    finally:
        broadcaster.terminate()
        broadcaster.wait(10)
