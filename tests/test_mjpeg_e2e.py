"""MJPEG over HTTP for standard players (O5): real masters behind HAProxy, a real slave,
driven with requests, curl, OpenCV's VideoCapture and ffprobe as a user would."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
import requests

from client.sources import read_code
from tests.conftest import broadcasting, register_users, start_cluster, stop_cluster, wait_until


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mjpeg")
    cluster = start_cluster(tmp, slaves=1, tls=True)  # as ``framecast up``: plain HTTP for this machine
    alice, bob = register_users(cluster, tmp, "alice", "bob")
    caster = broadcasting(alice, "alice", "--fps", "15", "--size", "640x480")
    try:
        yield cluster, bob
    finally:
        caster.stop()
        stop_cluster(cluster)


def token_of(cli) -> str:
    return json.loads((cli.home / "credentials.json").read_text())["token"]


def parts(response, count: int, limit: int = 200) -> list[tuple[int, bytes]]:
    """The first ``count`` (frame number, image) parts of a multipart stream."""
    boundary = response.headers["Content-Type"].split("boundary=")[1].encode()
    buffer, found = b"", []
    for chunk in response.iter_content(8192):
        buffer += chunk
        while len(found) < count:
            start = buffer.find(b"--" + boundary + b"\r\n")
            end = buffer.find(b"\r\n\r\n", start)
            if start < 0 or end < 0:
                break
            headers = dict(line.split(": ", 1) for line in buffer[start:end].decode().split("\r\n")[1:])
            length = int(headers["Content-Length"])
            if len(buffer) < end + 4 + length:
                break
            found.append((int(headers["X-Frame-Seq"]), buffer[end + 4 : end + 4 + length]))
            buffer = buffer[end + 4 + length :]
        if len(found) >= count or limit == 0:
            return found
        limit -= 1
    return found


def test_basic_auth_redirects_to_the_slave_which_streams_mjpeg(web):
    cluster, bob = web
    url = cluster.web + "watch/alice.mjpg"
    with requests.get(url, auth=("bob", "password-bob"), stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert response.history and response.history[0].status_code == 302
        assert urlsplit(response.url).port != cluster.web_port  # the images come from the slave
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        frames = parts(response, 5)
    seqs = [seq for seq, _ in frames]
    assert len(frames) == 5 and seqs == sorted(seqs) and len(set(seqs)) == 5
    image = cv2.imdecode(np.frombuffer(frames[-1][1], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (480, 640, 3)
    assert read_code(image) > 0  # the test pattern's own frame number, drawn in the image


def test_a_token_opens_the_snapshot(web):
    cluster, bob = web
    response = requests.get(cluster.web + "snapshot/alice.jpg", params={"token": token_of(bob)}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8"
    assert int(response.headers["X-Frame-Seq"]) > 0


def test_refusals_are_one_clear_line(web):
    cluster, _ = web
    anonymous = requests.get(cluster.web + "watch/alice.mjpg", timeout=10)
    assert anonymous.status_code == 401 and "Basic" in anonymous.headers["WWW-Authenticate"]
    wrong = requests.get(cluster.web + "watch/alice.mjpg", auth=("bob", "not-the-password"), timeout=10)
    assert wrong.status_code == 401 and wrong.text == "wrong user name or password\n"
    nobody = requests.get(cluster.web + "snapshot/carol.jpg", auth=("bob", "password-bob"), timeout=10)
    assert nobody.status_code == 404 and "not broadcasting" in nobody.text
    forged = requests.get(cluster.web + "snapshot/alice.jpg", params={"token": "forged"}, timeout=10)
    assert forged.status_code == 401
    bad_path = requests.get(cluster.web + "watch/alice", auth=("bob", "password-bob"), timeout=10)
    assert bad_path.status_code == 404


def test_a_ticket_serves_one_snapshot(web):
    cluster, bob = web
    first = requests.get(cluster.web + "snapshot/alice.jpg", params={"token": token_of(bob)}, timeout=10)
    replayed = requests.get(first.url, timeout=10)  # the slave's address, with the same ticket
    assert first.status_code == 200 and replayed.status_code == 403 and "already used" in replayed.text


def test_curl_gets_the_frames(web, tmp_path):
    cluster, _ = web
    out = tmp_path / "stream.mjpg"
    url = cluster.web + "watch/alice.mjpg"
    result = subprocess.run(
        ["curl", "-sS", "-L", "-u", "bob:password-bob", "--max-time", "2", "-o", str(out), url],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 28, result.stderr  # cut by --max-time: the stream goes on
    assert out.read_bytes().count(b"\xff\xd8\xff") >= 5


def test_opencv_plays_the_url(web):
    cluster, bob = web
    capture = cv2.VideoCapture(f"{cluster.web}watch/alice.mjpg?token={token_of(bob)}", cv2.CAP_FFMPEG)
    try:
        assert capture.isOpened()
        codes = []
        for _ in range(10):
            ok, image = capture.read()
            assert ok
            codes.append(read_code(image))
    finally:
        capture.release()
    assert codes == sorted(codes) and codes[-1] > codes[0]


def test_ffprobe_reads_the_url(web):
    if not shutil.which("ffprobe"):
        pytest.fail("ffprobe is not installed (.ci/run installs Debian's ffmpeg)")
    cluster, bob = web
    url = f"{cluster.web}watch/alice.mjpg?token={token_of(bob)}"
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", url], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    stream = json.loads(result.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 640, 480)


def test_a_slow_reader_gets_the_newest_frames_not_a_backlog(web):
    """A reader that stops reading for 3 s (45 frames at 15 fps) then reads on is sent what
    fitted in the socket buffers, then the newest frame: never the frames in between."""
    cluster, bob = web
    location = requests.get(
        cluster.web + "watch/alice.mjpg", params={"token": token_of(bob)}, allow_redirects=False, timeout=10
    ).headers["Location"]
    url = urlsplit(location)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    sock.connect((url.hostname, url.port))
    sock.sendall(f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
    try:
        wait_until(lambda: sock.recv(1, socket.MSG_PEEK), 10)
        stalled_at = time.monotonic()
        wait_until(lambda: time.monotonic() - stalled_at > 3, 10)
        newest = snapshot_seq(cluster, bob)
        sock.settimeout(5)
        data, seqs = b"", []
        while len(seqs) < 100 and not any(b > a + 1 for a, b in zip(seqs, seqs[1:])):
            data += sock.recv(65536)
            seqs = [int(line[13:]) for line in data.split(b"\r\n") if line.startswith(b"X-Frame-Seq: ")]
    finally:
        sock.close()
    jump = next(i for i in range(1, len(seqs)) if seqs[i] > seqs[i - 1] + 1)
    assert jump < (newest - seqs[0]) / 2  # most of what came during the stall was never sent
    assert seqs[jump] >= newest - 2  # the next frame sent was the newest


def snapshot_seq(cluster, bob) -> int:
    response = requests.get(cluster.web + "snapshot/alice.jpg", params={"token": token_of(bob)}, timeout=10)
    return int(response.headers["X-Frame-Seq"])


def declared_body_answer(url: str) -> bytes:
    """The answer to a POST declaring a 10 GiB body, of which it sends nothing."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(b"POST /watch/alice.mjpg HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n")
        return conn.recv(4096)


def test_web_fronts_refuse_bodies_send_security_headers_and_log_no_credentials(web):
    cluster, bob = web
    token = token_of(bob)
    snapshot = requests.get(cluster.web + "snapshot/alice.jpg", params={"token": token}, timeout=10)
    assert snapshot.status_code == 200 and snapshot.history  # the master's redirect, then the slave
    ticket = urlsplit(snapshot.url).query.split("ticket=", 1)[1]
    for response in (snapshot.history[0], snapshot):  # the master's answer and the slave's
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    for url in (cluster.web, snapshot.url):  # HAProxy to a master, and the slave's web port
        assert declared_body_answer(url).startswith(b"HTTP/1.1 413 ")
    logs = [node.log for node in cluster.nodes]
    wait_until(lambda: all("/snapshot/alice.jpg" in log.read_text() for log in logs), timeout=10)
    for log in logs:
        text = log.read_text()
        assert token not in text and ticket not in text
