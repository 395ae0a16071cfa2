"""Relay chains with real processes (C10): masters with ``--relay-after 2`` spread the
viewers of one broadcast over several slaves, relays pulling from the origin or from
another relay; a relay whose upstream turns slow switches upstream; a relay drained or
killed, its viewers carry on from another node."""

import signal
import threading

import pytest

from tests.conftest import (
    Running,
    broadcast_entry,
    broadcasting,
    cluster_status,
    metric,
    register_users,
    start_cluster,
    stop_cluster,
    wait_until,
)

FPS = 10
VIEWERS = ("v1", "v2", "v3", "v4", "v5", "v6")


@pytest.fixture(scope="module")
def relayed(tmp_path_factory):
    """A cluster relaying past 2 viewers per slave, alice broadcasting, six viewers on it."""
    home = tmp_path_factory.mktemp("relay")
    cluster = start_cluster(home, masters=2, slaves=3, master_args=["--relay-after", "2"])
    alice, *viewers = register_users(cluster, home, "alice", *VIEWERS)
    caster = broadcasting(alice, "alice", "--fps", str(FPS), "--size", "320x240", "--duration", "300")
    watching = []
    for count, viewer in enumerate(viewers, 1):  # one at a time: each placement sees the last
        watching.append(Running(viewer, "view", "alice", "--json", "--duration", "300"))
        wait_until(lambda: audience(alice) >= count and watching[-1].json(), 20)
    yield cluster, alice, watching
    for running in watching + [caster]:
        running.stop()
    stop_cluster(cluster)


def audience(cli) -> int:
    return next((b["viewers"] for b in cluster_status(cli)["broadcasts"] if b["user"] == "alice"), 0)


def tree(cli) -> list[dict]:
    return [row for row in cluster_status(cli)["relays"] if row["user"] == "alice"]


def addresses(cli) -> dict[str, str]:
    return {s["addr"]: s["id"] for s in cluster_status(cli)["slaves"]}


def latest(viewer: Running) -> dict:
    return viewer.json()[-1]


def flowing(viewer: Running, since_seq: int, frames: int = 2 * FPS) -> bool:
    """The viewer got ``frames`` more frames past ``since_seq``."""
    return latest(viewer)["last_seq"] > since_seq + frames


def test_viewers_spread_over_relays_at_the_broadcast_rate(relayed):
    cluster, alice, viewers = relayed
    rows = wait_until(lambda: len(tree(alice)) >= 2 and tree(alice), 20)
    origin = rows[0]
    assert origin["depth"] == 0 and origin["upstream"] == ""
    assert all(r["upstream"] for r in rows[1:]) and all(r["depth"] >= 1 for r in rows[1:])
    assert all(r["viewers"] <= 2 for r in rows)
    nodes = {latest(v)["slave"] for v in viewers}
    assert len(nodes) >= 2
    marks = [latest(v)["last_seq"] for v in viewers]
    wait_until(lambda: all(flowing(v, mark, 3 * FPS) for v, mark in zip(viewers, marks)), 30)
    for viewer, mark in zip(viewers, marks):
        lines = [line for line in viewer.json() if line["last_seq"] > mark]
        got = lines[-1]["frames"] - lines[0]["frames"]
        produced = lines[-1]["last_seq"] - lines[0]["last_seq"]
        assert got >= 0.8 * produced, "a relayed viewer gets (nearly) every frame, as one on the origin does"
    table = alice.operator("status").stdout
    assert "RELAY TREES" in table and "(origin)" in table


class Stutter:
    """Throttles a slave's output by stopping its process for most of every cycle
    (SIGSTOP/SIGCONT): whoever pulls from it gets a fraction of the frames."""

    def __init__(self, process, stopped: float = 0.9, running: float = 0.1):
        self.process, self.stopped, self.running = process, stopped, running
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.done.is_set():
            self.process.send_signal(signal.SIGSTOP)
            self.done.wait(self.stopped)
            self.process.send_signal(signal.SIGCONT)
            self.done.wait(self.running)

    def __exit__(self, *_):
        self.done.set()
        self.thread.join(5)
        self.process.send_signal(signal.SIGCONT)


def test_a_relay_whose_upstream_turns_slow_switches_upstream(relayed):
    cluster, alice, viewers = relayed
    rows = wait_until(lambda: [r for r in tree(alice) if r["depth"] == 2], 20)
    relay, upstream = rows[0]["slave"], rows[0]["upstream"]
    assert metric(cluster, relay, "framecast_slave_relay_depth") == 2
    with Stutter(cluster.node(upstream).process):
        moved = wait_until(lambda: [r for r in tree(alice) if r["slave"] == relay and r["upstream"] != upstream], 30)
    assert moved[0]["upstream"] and moved[0]["depth"] >= 1
    assert metric(cluster, relay, "framecast_slave_relay_upstream_switches_total") >= 1
    on_relay = [v for v in viewers if addresses(alice).get(latest(v)["slave"]) == relay]
    marks = [latest(v)["last_seq"] for v in on_relay]
    wait_until(lambda: all(flowing(v, mark) for v, mark in zip(on_relay, marks)), 20)


def relay_viewers(cli, viewers: list[Running]) -> tuple[str, list[Running]]:
    """A relay slave (deepest first) and the viewers watching there."""
    by_addr = addresses(cli)
    relays = [r["slave"] for r in sorted(tree(cli), key=lambda r: -r["depth"]) if r["depth"] >= 1]
    for slave in relays:
        on_it = [v for v in viewers if by_addr.get(latest(v)["slave"]) == slave]
        if on_it:
            return slave, on_it
    raise AssertionError(f"no viewers on a relay: {tree(cli)}")


def test_draining_a_relay_moves_its_viewers_losing_few_frames(relayed):
    cluster, alice, viewers = relayed
    relay, moving = relay_viewers(alice, viewers)
    before = [latest(v) for v in moving]
    result = alice.operator("drain", relay, "--wait", "--deadline", "20")
    assert result.returncode == 0, result.stderr
    try:
        by_addr = addresses(alice)
        wait_until(lambda: all(by_addr.get(latest(v)["slave"]) != relay for v in moving), 20)
        wait_until(lambda: all(flowing(v, b["last_seq"]) for v, b in zip(moving, before)), 20)
        for viewer, old in zip(moving, before):
            lines = viewer.json()
            assert lines[-1]["moves"] > old["moves"]
            assert lines[-1]["skipped"] - old["skipped"] <= 5, "a drained relay costs its viewers a few frames at most"
    finally:
        assert alice.operator("undrain", relay).returncode == 0
    wait_until(lambda: next(s for s in cluster_status(alice)["slaves"] if s["id"] == relay)["state"] == "live", 15)


def test_kill_9_of_a_relay_its_viewers_resume_elsewhere(relayed):
    cluster, alice, viewers = relayed
    wait_until(lambda: any(r["depth"] >= 1 and r["viewers"] for r in tree(alice)), 30)
    relay, cut = relay_viewers(alice, viewers)
    relay_addr = cluster.node(relay).client_addr
    before = [latest(v) for v in cut]
    cluster.kill(relay, signal.SIGKILL)
    wait_until(lambda: all(latest(v)["slave"] != relay_addr for v in cut), 30)
    wait_until(lambda: all(flowing(v, b["last_seq"]) for v, b in zip(cut, before)), 30)
    assert all(latest(v)["reconnects"] > b["reconnects"] for v, b in zip(cut, before))


def test_kill_9_of_the_origin_relays_reattach_to_the_broadcasters_new_slave(relayed):
    cluster, alice, viewers = relayed
    cluster.add_slave()
    cluster.wait_live_slaves(3)
    origin = broadcast_entry(alice, "alice")["slave"]
    relays = wait_until(lambda: {r["slave"] for r in tree(alice) if r["depth"] >= 1}, 20)
    before = [latest(v) for v in viewers]
    cluster.kill(origin, signal.SIGKILL)
    wait_until(lambda: (entry := broadcast_entry(alice, "alice")) and entry["slave"] != origin, 30)
    wait_until(lambda: all(flowing(v, b["last_seq"]) for v, b in zip(viewers, before)), 40)
    # each relay is in the new tree: re-attached under the new origin (or the origin itself)
    wait_until(lambda: relays <= {r["slave"] for r in tree(alice)}, 40)  # a loaded machine is slow to notice
