"""The whole cluster as users drive it: HAProxy, 2 masters, 2 slaves, real Redis and
PostgreSQL, the ``framecast`` command line (S1-S4, C2, C5, U1, U2, O4), with TLS on every
port as ``framecast up`` runs it."""

import json
import time

import cv2
import pytest

from client.sources import TestPattern, read_code
from tests.conftest import (
    broadcast_entry,
    cluster_status,
    json_lines,
    slave_row,
    start_cluster,
    stop_cluster,
    wait_until,
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """This module's cluster runs TLS, the default (the shared one runs --insecure)."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"), tls=True)
    yield cluster
    stop_cluster(cluster)


def test_one_broadcaster_two_viewers(cluster, user, tmp_path):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    broadcaster = alice.start("broadcast", "--source", "test", "--fps", "15", "--duration", "30")
    try:
        entry = wait_until(lambda: broadcast_entry(bob, "alice"), 15)
        viewers = [
            v.start("view", "alice", "--json", "--duration", "4", "--out", str(tmp_path / name))
            for v, name in ((bob, "bob"), (carol, "carol"))
        ]
        status = wait_until(lambda: slave_row(bob, entry["slave"])["viewers"] == 2 and cluster_status(bob), 15)
        table = bob.operator("status").stdout
        outputs = [v.communicate(timeout=30) for v in viewers]
    finally:
        broadcaster.terminate()
        broadcaster.wait(10)

    assert {m["state"] for m in status["masters"]} == {"live"} and len(status["masters"]) == 2
    assert [s["state"] for s in status["slaves"]] == ["live", "live"]
    holder = next(s for s in status["slaves"] if s["id"] == entry["slave"])
    assert holder["broadcasts"] == 1 and holder["viewers"] == 2
    assert "alice" in table and entry["addr"] in table

    for (stdout, stderr), name in zip(outputs, ("bob", "carol")):
        lines = json_lines(stdout)
        assert len(lines) >= 3, stderr
        for line in lines:
            assert {"frames", "fps", "kbps", "last_seq", "last_frame_time", "slave"} <= set(line)
            assert line["slave"] == entry["addr"]
        seqs = [line["last_seq"] for line in lines]
        assert seqs == sorted(seqs) and seqs[-1] > seqs[0]
        assert lines[-1]["frames"] >= 30
        assert abs(lines[-1]["last_frame_time"] - time.time()) < 60
        saved = sorted((tmp_path / name).iterdir())
        assert len(saved) == lines[-1]["frames"]
        for path in saved[:: max(1, len(saved) // 10)]:
            image = cv2.imread(str(path))
            assert image.shape == (480, 640, 3)
            assert read_code(image) == int(path.stem), "the frame must decode to the test pattern it was"


def test_broadcast_ends_cleanly_and_viewers_are_told(cluster, user):
    dora, eve = user("dora"), user("eve")
    broadcaster = dora.start("broadcast", "--fps", "10", "--duration", "4")
    wait_until(lambda: broadcast_entry(eve, "dora"), 15)
    viewed = eve.run("view", "dora", "--json", timeout=30)
    broadcaster.wait(30)
    assert viewed.returncode == 0
    assert "dora ended the broadcast" in viewed.stderr
    assert json_lines(viewed.stdout)[-1]["frames"] > 5
    wait_until(lambda: broadcast_entry(eve, "dora") is None, 10)


@pytest.mark.parametrize("codec", ["jpeg", "jpeg2000"])
def test_video_file_source_and_codecs(cluster, user, tmp_path, codec):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 15, (640, 480))
    pattern = TestPattern()
    for _ in range(60):
        writer.write(pattern.read())
    writer.release()
    name = f"film{codec}"
    star, fan = user(name), user(f"fan{codec}")
    broadcaster = star.start("broadcast", "--source", str(video), "--fps", "10", "--codec", codec)
    try:
        wait_until(lambda: broadcast_entry(fan, name), 15)
        fan.ok("view", name, "--frames", "5", "--out", str(tmp_path / "out"), timeout=30)
    finally:
        broadcaster.wait(30)
    saved = sorted((tmp_path / "out").iterdir())
    assert len(saved) == 5
    assert saved[0].suffix == (".jp2" if codec == "jpeg2000" else ".jpg")
    from client import codecs
    from common.protocol import Codec

    image = codecs.decode(Codec.JPEG2000 if codec == "jpeg2000" else Codec.JPEG, saved[-1].read_bytes())
    assert image.shape == (480, 640, 3)
    assert 0 < read_code(image) <= 60  # the file's own frame number, drawn when it was written


def test_second_broadcast_of_the_same_user_is_refused(cluster, user):
    frank = user("frank")
    first = frank.start("broadcast", "--duration", "20")
    try:
        wait_until(lambda: broadcast_entry(frank, "frank"), 15)
        second = frank.run("broadcast", "--frames", "3")
        assert second.returncode == 1
        assert second.stderr.strip() == "framecast: error: frank is already broadcasting (one broadcast per user)"
    finally:
        first.terminate()
        first.wait(10)


def test_every_node_serves_metrics_and_masters_list_them(cluster, user):
    import urllib.request

    def scrape(port, path="/metrics"):
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read().decode()

    user("metrix")
    master = cluster.node("master-1")
    text = scrape(master.ports["metrics"])
    assert "framecast_master_heartbeats_total" in text and "framecast_master_slaves" in text
    targets = json.loads(scrape(master.ports["metrics"], "/sd"))
    slave_targets = next(group["targets"] for group in targets if group["labels"]["role"] == "slave")
    assert sorted(slave_targets) == sorted(
        f"127.0.0.1:{n.ports['metrics']}" for n in cluster.nodes if n.role == "slave"
    )
    for node in cluster.nodes:
        if node.role == "slave":
            text = scrape(node.ports["metrics"])
            assert "framecast_slave_frames_out_total" in text and "framecast_slave_master_connected 1.0" in text
