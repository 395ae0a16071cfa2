"""Per-viewer flow control on a real cluster (S5-S8, U9): slow and stalled viewers, speed
tiers, per-user budgets across slaves, and pause."""

import json
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from client.masters import Masters
from common.addresses import parse_hostport
from common.messages import parse
from common.messages.basic import Error
from common.messages.streaming import ViewStart
from common.protocol import Decoder, MessageType as T, decode_frame, encode_ack
from tests.conftest import Cli, Running, broadcast_entry, json_lines, register_users, wait_until


@pytest.fixture(scope="module")
def flow_cluster(tmp_path_factory):
    from tests.conftest import start_cluster, stop_cluster

    cluster = start_cluster(
        tmp_path_factory.mktemp("flow"),
        master_args=["--allowances", "free=600,paid=6000"],
        slave_args=["--stall-timeout", "3"],
    )
    yield cluster
    stop_cluster(cluster)


@pytest.fixture
def people(flow_cluster, tmp_path):
    return lambda *names: register_users(flow_cluster, tmp_path, *names)


def set_service_level(cluster, user, level):
    """What an operator does to upgrade a user: SQL on the users table (from the next login)."""
    import psycopg2

    with psycopg2.connect(cluster.database) as conn, conn.cursor() as cur:
        cur.execute("UPDATE users SET service_level = %s WHERE name = %s", (level, user))
    conn.close()


def on_air(cli, user):
    return wait_until(lambda: broadcast_entry(cli, user), 15)


class RawViewer(threading.Thread):
    """A viewer on a raw socket that reads ``chunk`` bytes every ``pause`` seconds (a slow
    link), or nothing at all (``pause=None``: a viewer that stopped reading)."""

    def __init__(self, cli: Cli, target: str, chunk=4096, pause: float | None = 0.05, seconds=8.0):
        super().__init__(daemon=True)
        redirect = Masters(cli.server).view_redirect(
            json.loads((cli.home / "credentials.json").read_text())["token"], target
        )
        self.sock = socket.create_connection(parse_hostport(redirect.slave))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        self.sock.sendall(ViewStart(redirect.ticket).encode())
        self.chunk, self.pause, self.seconds = chunk, pause, seconds
        self.frames: list[tuple[int, float, float]] = []  # (seq, capture time, receipt time)
        self.errors: list[dict] = []

    def run(self) -> None:
        if self.pause is None:
            return
        decoder, end = Decoder(), time.monotonic() + self.seconds
        while time.monotonic() < end:
            data = self.sock.recv(self.chunk)
            if not data:
                return
            for message in decoder.feed(data):
                if message.type == T.FRAME:
                    info, _ = decode_frame(message.body)
                    self.frames.append((info.seq, info.capture_time, time.time()))
                    self.sock.sendall(encode_ack(info.seq))
            time.sleep(self.pause)

    def drain(self) -> list:
        """Everything the slave ever sent to a viewer that did not read."""
        self.sock.settimeout(10)
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        return list(Decoder().feed(data))


def slow_and_fast_scenario(people, flow_cluster, suffix):
    """A fast CLI viewer and a slow raw-socket viewer of one 15 fps broadcast; returns the
    fast viewer's JSON lines and the slow viewer."""
    star, fast, slow = people(f"star{suffix}", f"fast{suffix}", f"slow{suffix}")
    for cli, user in ((fast, f"fast{suffix}"), (slow, f"slow{suffix}")):
        set_service_level(flow_cluster, user, "paid")  # 6,000 kbps: flow control alone limits them
        cli.ok("login", user, "--password", f"password-{user}")  # the level comes with the login
    broadcaster = star.start("broadcast", "--fps", "15", "--duration", "30", "--quality", "7")
    try:
        on_air(fast, f"star{suffix}")
        slow_viewer = RawViewer(slow, f"star{suffix}", chunk=4096, pause=0.05, seconds=8)
        slow_viewer.start()
        fast_lines = json_lines(fast.ok("view", f"star{suffix}", "--json", "--duration", "8"))
        slow_viewer.join(15)
    finally:
        broadcaster.terminate()
        broadcaster.wait(10)
    return fast_lines, slow_viewer


def test_a_slow_viewer_gets_only_the_newest_frames_and_never_slows_a_fast_one(people, flow_cluster):
    fast_lines, slow_viewer = slow_and_fast_scenario(people, flow_cluster, "1")
    steady = fast_lines[1:-1]
    received = steady[-1]["frames"] - steady[0]["frames"]
    offered = steady[-1]["last_seq"] - steady[0]["last_seq"]
    assert received >= 0.95 * offered, f"fast viewer got {received} of {offered} frames"
    seqs = [seq for seq, _, _ in slow_viewer.frames]
    assert len(seqs) >= 5 and len(seqs) < 0.6 * (seqs[-1] - seqs[0]), "the slow viewer skipped frames"
    assert seqs == sorted(seqs)


def test_a_viewer_that_stops_reading_costs_one_frame_and_is_dropped(people, flow_cluster):
    star, stuck = people("star2", "stuck2")
    broadcaster = star.start("broadcast", "--fps", "15", "--duration", "30")
    try:
        on_air(stuck, "star2")
        viewer = RawViewer(stuck, "star2", pause=None)
        messages = viewer.drain()  # returns once the slave closes the connection
    finally:
        broadcaster.terminate()
        broadcaster.wait(10)
    frames = [m for m in messages if m.type == T.FRAME]
    assert len(frames) == 1, "without acknowledgements the slave sends one frame and holds nothing more"
    error = [parse(m) for m in messages if m.type == T.ERROR][-1]
    assert error == Error("stalled", "no frame acknowledged for 3 s; viewer dropped")


def test_viewers_at_20_80_and_280_kbps(people):
    star, *viewers = people("star3", "dialup3", "dsl3", "lan3")
    broadcaster = star.start("broadcast", "--fps", "15", "--size", "512x96", "--quality", "0", "--duration", "40")
    try:
        on_air(star, "star3")
        processes = [
            v.start("view", "star3", "--json", "--duration", "10", "--link", link)
            for v, link in zip(viewers, ("dialup", "dsl", "lan"))
        ]
        results = [json_lines(p.communicate(timeout=40)[0]) for p in processes]
    finally:
        broadcaster.terminate()
        broadcaster.wait(10)
    finals = [lines[-1] for lines in results]
    assert [f["cap_kbps"] for f in finals] == [20, 80, 280]
    rates = [f["frames"] for f in finals]
    assert rates[0] < rates[1] < rates[2], rates
    for final, cap in zip(finals, (20, 80, 280)):
        elapsed = final["time"] - results[0][0]["time"] + 1
        largest_frame = 6000
        assert final["bytes"] <= cap * 1000 / 8 * elapsed + largest_frame, f"over its {cap} kbps cap"


def capped_viewers(cluster) -> float:
    """Capped viewer streams on all slaves, as their metrics count them (no per-user series)."""
    total = 0.0
    for node in cluster.nodes:
        if node.role == "slave" and cluster.is_running(node):
            text = urllib.request.urlopen(f"http://127.0.0.1:{node.ports['metrics']}/metrics", timeout=5).read()
            for line in text.decode().splitlines():
                if line.startswith("framecast_slave_capped_viewers "):
                    total += float(line.split()[-1])
    return total


def test_a_users_allowance_is_shared_by_all_its_sessions_across_slaves(people, flow_cluster):
    one, two, budget = people("star4a", "star4b", "budget4")
    casts = [
        one.start("broadcast", "--duration", "60", "--fps", "5"),
        two.start("broadcast", "--duration", "60", "--fps", "5"),
    ]
    opened = []
    try:
        slaves = {on_air(budget, "star4a")["slave"], on_air(budget, "star4b")["slave"]}
        assert len(slaves) == 2, "the two broadcasts are on two slaves"

        def open_view(target):
            opened.append(Running(budget, "view", target, "--json", "--duration", "60"))

        def caps_are(count, cap):
            latest = [view.json()[-1] for view in opened if view.json()]
            fresh = len(latest) == count and all(row["cap_kbps"] == cap for row in latest)
            return fresh and capped_viewers(flow_cluster) == count and latest

        open_view("star4a")
        wait_until(lambda: caps_are(1, 600), 10)
        open_view("star4b")
        open_view("star4a")
        caps = wait_until(lambda: caps_are(3, 200), 10)
        assert len({row["slave"] for row in caps}) == 2, "the sessions are on two slaves"
        opened.pop().stop()
        wait_until(lambda: caps_are(2, 300), 10)
    finally:
        for view in opened:
            view.stop()
        for process in casts:
            process.terminate()
            process.wait(10)


def test_pause_viewer_and_broadcaster(people):
    star, fan = people("star5", "fan5")
    broadcaster = star.start("broadcast", "--fps", "10", "--size", "512x96", "--duration", "60", stdin=subprocess.PIPE)
    on_air(fan, "star5")
    viewer = fan.start("view", "star5", "--json", "--duration", "60", stdin=subprocess.PIPE)
    lines: list[dict] = []
    reader = threading.Thread(
        target=lambda: [lines.append(json.loads(x)) for x in viewer.stdout if x[0] == "{"], daemon=True
    )
    try:
        reader.start()
        wait_until(lambda: lines and lines[-1]["frames"] > 10, 15)
        viewer.stdin.write("p\n")
        viewer.stdin.flush()
        paused = wait_until(lambda: lines[-1]["paused"] and lines[-1], 5)
        wait_until(lambda: lines[-1]["time"] > paused["time"] + 2, 10)  # two more seconds of reports
        assert lines[-1]["frames"] == paused["frames"], "no image reaches a paused viewer"
        viewer.stdin.write("r\n")
        viewer.stdin.flush()
        resumed = wait_until(lambda: not lines[-1]["paused"] and lines[-1], 5)
        assert resumed["last_seq"] > paused["last_seq"] + 15, "resuming brings the newest frame"

        broadcaster.stdin.write("p\n")
        broadcaster.stdin.flush()
        wait_until(lambda: lines[-1]["broadcaster_paused"], 5)
        assert on_air(fan, "star5"), "a paused broadcaster keeps its session"
        broadcaster.stdin.write("r\n")
        broadcaster.stdin.flush()
        resumed = wait_until(lambda: not lines[-1]["broadcaster_paused"] and lines[-1], 8)
        wait_until(lambda: lines[-1]["last_seq"] > resumed["last_seq"], 8)
    finally:
        viewer.terminate()
        broadcaster.terminate()
        viewer.wait(10)
        _, errors = broadcaster.communicate(timeout=10)
    assert "paused" in errors and "resumed" in errors
