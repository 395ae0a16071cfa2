"""Camera URLs as broadcast sources (S2b) on a real cluster: real HTTP cameras (MJPEG and
snapshot) and GStreamer's RTSP server, broadcast with ``framecast broadcast --source URL``
and checked by ``framecast view``."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager

import cv2
import numpy as np
import psutil
import pytest

from cli.local_cluster import free_port
from client.sources import read_code
from tests.cameras import HttpCamera, camera_jpegs, rtsp_available, start_rtsp
from tests.conftest import Running, broadcasting, wait_until

PASSWORD = "s3cret-Camera-pw"


@pytest.fixture(scope="module")
def jpegs():
    return camera_jpegs(120)


@pytest.fixture
def camera(jpegs):
    camera = HttpCamera(jpegs, fps=15, login=("cam", PASSWORD)).start()
    yield camera
    if camera.live.is_set():
        camera.stop()


def listening(port: int) -> bool:
    return any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in psutil.net_connections("tcp"))


def saved(folder) -> list[bytes]:
    return [path.read_bytes() for path in sorted(folder.glob("*.jpg"))] if folder.exists() else []


def stop(caster: Running) -> str:
    caster.stop()
    return "\n".join(caster.lines)


def broadcast_and_view(caster, name: str, viewer, source: str, folder, frames: int = 6) -> tuple[list, str]:
    """``caster`` (user ``name``) broadcasts ``source``: the images ``viewer`` saved of
    ``frames`` frames, and what the broadcaster printed."""
    running = broadcasting(caster, name, "--source", source)
    try:
        viewer.ok("view", name, "--frames", str(frames), "--out", str(folder), timeout=60)
    finally:
        lines = stop(running)
    return [cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR) for frame in saved(folder)], lines


def test_mjpeg_camera_is_passed_through_byte_for_byte(user, camera, jpegs, tmp_path):
    alice, bob = user("alice"), user("bob")
    source = f"{camera.url}/video.mjpg"
    caster = broadcasting(alice, "alice", "--source", source, "--source-user", "cam", "--source-password", PASSWORD)
    try:
        bob.ok("view", "alice", "--frames", "12", "--out", str(tmp_path / "got"), timeout=60)
    finally:
        lines = stop(caster)
    index = {data: number for number, data in enumerate(jpegs)}
    numbers = [index.get(frame) for frame in saved(tmp_path / "got")]  # None: not one of the camera's JPEGs
    assert len(numbers) == 12 and None not in numbers, numbers
    assert len(set(numbers)) == 12, numbers
    assert PASSWORD not in lines


def test_snapshot_url_in_the_url_credentials_polled_and_resized(user, camera, tmp_path):
    carol, bob = user("carol"), user("bob2")
    source = f"http://cam:{PASSWORD}@127.0.0.1:{camera.port}/snapshot.jpg"
    caster = broadcasting(carol, "carol", "--source", source, "--fps", "10", "--size", "320x240")
    try:
        bob.ok("view", "carol", "--frames", "6", "--out", str(tmp_path / "got"), timeout=60)
    finally:
        lines = stop(caster)
    images = [cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR) for frame in saved(tmp_path / "got")]
    assert len(images) == 6 and all(image.shape == (240, 320, 3) for image in images)
    assert len({read_code(cv2.resize(image, (640, 480))) for image in images}) == 6  # fresh snapshots
    assert PASSWORD not in lines


def test_a_camera_that_drops_pauses_the_broadcast_and_resumes_it(user, camera, tmp_path):
    dave, bob = user("dave"), user("bob3")
    source = f"{camera.url}/video.mjpg"
    caster = broadcasting(
        dave, "dave", "--source", source, "--source-user", "cam", "--source-password", PASSWORD, "--source-timeout", "2"
    )
    got = tmp_path / "got"
    viewer = Running(bob, "view", "dave", "--json", "--out", str(got), "--duration", "50")
    try:
        wait_until(lambda: len(saved(got)) >= 5, 20)
        camera.stop()
        caster.saw("source out", timeout=15)
        wait_until(lambda: any(line["broadcaster_paused"] for line in viewer.json()), 15)
        before = len(saved(got))
        camera.start()  # the same port, as a camera back from a reboot
        caster.saw("source back", timeout=30)
        wait_until(lambda: len(saved(got)) >= before + 5, 20)
        assert viewer.process.poll() is None  # still attached: the broadcast was paused, not ended
        wait_until(lambda: not viewer.json()[-1]["broadcaster_paused"], 10)  # its once-a-second line
    finally:
        viewer.stop()
        lines = stop(caster)
    assert sum("source out" in line for line in caster.lines) == 1
    assert PASSWORD not in lines


@pytest.mark.parametrize(
    "source, extra, says",
    [
        ("{url}/video.mjpg", ("--source-user", "cam", "--source-password", "wrong-" + PASSWORD), "refused the credentials"),
        ("{url}/video.mjpg", (), "needs credentials"),
        ("{url}/nothing", ("--source-user", "cam", "--source-password", PASSWORD), "HTTP 404"),
        ("http://cam:" + PASSWORD + "@127.0.0.1:1/video.mjpg", (), "connection refused"),
        ("rtsp://127.0.0.1:1/cam", (), "Connection refused"),
    ],
)
def test_a_camera_that_cannot_be_used_is_one_line_and_an_error(user, camera, source, extra, says):
    erin = user(f"erin{abs(hash((source, says))) % 10000}")
    result = erin.run("broadcast", "--source", source.format(url=camera.url), *extra, "--duration", "5", timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("framecast: error:") and says in lines[0], result.stderr
    assert PASSWORD not in result.stderr


@pytest.mark.skipif(not rtsp_available(), reason="needs GStreamer's RTSP server (gir1.2-gst-rtsp-server-1.0)")
def test_rtsp_camera_with_an_mjpeg_track(user, tmp_path):
    server = start_rtsp(port := free_port())
    try:
        source = f"rtsp://127.0.0.1:{port}/cam"
        images, lines = broadcast_and_view(user("frank"), "frank", user("bob4"), source, tmp_path / "got", frames=8)
    finally:
        server.terminate()
        server.wait(10)
    assert len(images) == 8 and all(image.shape == (240, 320, 3) for image in images)
    assert PASSWORD not in lines


def test_another_framecast_broadcast_is_a_camera(user, cluster, tmp_path):
    """A broadcast re-broadcast: its MJPEG address with a player token is the source, and its
    JPEGs pass through (the web front redirects the player to the broadcast's slave)."""
    gina, hank = user("gina"), user("hank")
    original = broadcasting(gina, "gina", "--source", "test", "--fps", "10")
    try:
        token = hank.ok("token", "--for-player").strip()
        source = f"{cluster.web}watch/gina.mjpg?token={token}"
        images, lines = broadcast_and_view(hank, "hank", user("bob5"), source, tmp_path / "got")
    finally:
        original.stop()
    assert len(images) == 6 and len({read_code(image) for image in images}) == 6, "gina's frames, fresh"
    assert token not in lines, "the player token is not printed"


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15"]
TEST_VIDEO = ["-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=60"]
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (.ci/run installs it)")


@contextmanager
def ffmpeg_feed(*argv: str, ready):
    """An ``ffmpeg`` serving a feed, once ``ready()`` (not by connecting: it serves one client)."""
    feed = subprocess.Popen(["ffmpeg", "-loglevel", "error", *argv], stdin=subprocess.DEVNULL)
    try:
        wait_until(ready, 20)
        yield
    finally:
        feed.kill()
        feed.wait(10)


@needs_ffmpeg
def test_an_h264_rtmp_feed_is_decoded_and_broadcast(user, tmp_path):
    """``ffmpeg -listen 1`` serves an RTMP feed of H.264 (no JPEG to pass through): the
    broadcaster decodes it and encodes JPEGs."""
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/cam"
    with ffmpeg_feed(*TEST_VIDEO, *H264, "-f", "flv", "-listen", "1", url, ready=lambda: listening(port)):
        images, _ = broadcast_and_view(user("ivan"), "ivan", user("bob6"), url, tmp_path / "got")
    assert len(images) == 6 and all(image is not None and image.shape == (240, 320, 3) for image in images)


@needs_ffmpeg
def test_a_feed_without_video_is_one_line_and_an_error(user):
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/radio"
    sine = ["-re", "-f", "lavfi", "-i", "sine=duration=60", "-c:a", "aac"]
    with ffmpeg_feed(*sine, "-f", "flv", "-listen", "1", url, ready=lambda: listening(port)):
        result = user("jack").run("broadcast", "--source", url, "--duration", "5", timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and "has no video" in lines[0], result.stderr


@needs_ffmpeg
def test_an_srt_feed_is_broadcast(user, tmp_path):
    """SRT, which PyAV's wheels lack, through the ffmpeg program: ffmpeg listens as a camera
    that serves SRT would."""
    port = free_port()
    listener = f"srt://127.0.0.1:{port}?mode=listener"

    def ready() -> bool:
        return any(c.laddr.port == port for c in psutil.net_connections("udp"))

    with ffmpeg_feed(*TEST_VIDEO, *H264, "-f", "mpegts", listener, ready=ready):
        source = f"srt://127.0.0.1:{port}"
        images, _ = broadcast_and_view(user("kate"), "kate", user("bob7"), source, tmp_path / "got")
    assert len(images) == 6 and all(image is not None and image.shape == (240, 320, 3) for image in images)
