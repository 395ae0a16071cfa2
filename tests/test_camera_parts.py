"""The pure parts of camera URLs as sources: multipart parsing, JPEG sizes, redaction, backoff."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from client import http_camera
from client.frames import Captured, jpeg_size
from client.multipart import MultipartParser, boundary_of
from client.reopen import reopen_delays
from client.source_errors import SourceLost
from client.source_urls import SourceUrl, is_url, redact


def jpeg(width: int, height: int, shade: int = 0) -> bytes:
    return cv2.imencode(".jpg", np.full((height, width, 3), shade, np.uint8))[1].tobytes()


def multipart(bodies: list[bytes], boundary: bytes = b"frame", lengths: bool = True) -> bytes:
    out = b""
    for body in bodies:
        length = b"Content-Length: %d\r\n" % len(body) if lengths else b""
        out += b"--" + boundary + b"\r\nContent-Type: image/jpeg\r\n" + length + b"\r\n" + body + b"\r\n"
    return out


@pytest.mark.parametrize("lengths", [True, False])
def test_parts_come_back_byte_for_byte_whatever_the_chunking(lengths):
    bodies = [jpeg(32, 16, shade) for shade in (0, 100, 200)]
    stream = multipart(bodies, lengths=lengths) + b"--frame\r\n"  # the next part's start ends the last one
    for chunk_size in (1, 7, 4096):
        parser = MultipartParser(b"frame")
        got = []
        for at in range(0, len(stream), chunk_size):
            got += parser.feed(stream[at : at + chunk_size])
        assert got == bodies


def test_a_boundary_declared_with_its_dashes_and_a_preamble():
    body = jpeg(8, 8)
    parser = MultipartParser(boundary_of('multipart/x-mixed-replace; boundary="--myboundary"'))
    assert parser.feed(b"\r\n" + multipart([body], b"--myboundary"[2:])) == [body]


def test_oversized_and_malformed_parts_are_errors():
    with pytest.raises(ValueError):
        MultipartParser(b"f", max_part=100).feed(b"--f\r\nContent-Length: 1000\r\n\r\n")
    with pytest.raises(ValueError):
        MultipartParser(b"f", max_part=100).feed(b"--f\r\n\r\n" + b"x" * 20000)
    with pytest.raises(ValueError):
        boundary_of("multipart/x-mixed-replace")


def test_jpeg_size_without_decoding():
    assert jpeg_size(jpeg(320, 240)) == (320, 240)
    frame = Captured.of_jpeg(jpeg(64, 48))
    assert (frame.width, frame.height) == (64, 48) and frame.decoded().shape == (48, 64, 3)
    for bad in (b"", b"GIF89a", b"\xff\xd8\xff\xe0\x00\x10"):
        with pytest.raises(ValueError):
            jpeg_size(bad)


def test_credentials_go_into_the_url_and_never_into_text():
    source = SourceUrl.parse("rtsp://old:secret@cam.local:554/stream", user="admin", password="p@ss:w/rd")
    assert source.url == "rtsp://admin:p%40ss%3Aw%2Frd@cam.local:554/stream"
    assert source.without_credentials == "rtsp://cam.local:554/stream"
    assert source.shown == "rtsp://***@cam.local:554/stream"
    message = source.redact(f"Server returned 401 for {source.url} (password p@ss:w/rd)")
    assert "p@ss" not in message and "p%40ss" not in message and "admin:" not in message
    assert SourceUrl.parse("http://me:pw@cam/snap.jpg").password == "pw"
    assert SourceUrl.parse("http://cam/snap.jpg").shown == "http://cam/snap.jpg"


def test_redact_hides_any_urls_user_info_and_password_parameters():
    assert redact("open rtsp://u:p@h/s and http://x@y/") == "open rtsp://***@h/s and http://***@y/"
    assert redact("srt://h:9000?mode=caller&passphrase=topsecret1") == "srt://h:9000?mode=caller&passphrase=***"
    assert redact("no secrets here") == "no secrets here"


def test_which_sources_are_urls():
    assert all(is_url(s) for s in ("rtsp://h/s", "RTSPS://h", "rtmp://h/a", "srt://h:1", "https://h/x.mjpg"))
    assert not any(is_url(s) for s in ("test", "camera:0", "clip.mp4", "file://x", "C:/video.mp4"))
    with pytest.raises(ValueError):
        SourceUrl.parse("rtsp:///nohost")


def test_backoff_grows_to_its_cap_with_bounded_jitter():
    waits = reopen_delays(jitter=lambda: 0.0)
    assert [next(waits) for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    shortest = reopen_delays(jitter=lambda: 1.0)
    assert [next(shortest) for _ in range(3)] == [0.375, 0.75, 1.5]


def test_a_camera_that_trickles_bytes_but_no_image_has_stalled(monkeypatch):
    """Bytes keep coming, never a whole part: after ``stall`` seconds that is an outage."""
    ticks = iter(range(1000))
    monkeypatch.setattr(http_camera.time, "monotonic", lambda: float(next(ticks)))
    chunks = iter([b"--frame\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8", *[b"\x00" * 64] * 100])
    raw = SimpleNamespace(read1=lambda size: next(chunks))
    response = _Closing(SimpleNamespace(headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame"}, raw=raw))
    camera = http_camera.HttpCamera(SourceUrl.parse("http://127.0.0.1:1/video.mjpg"), 3.0, threading.Event())
    with pytest.raises(SourceLost, match="no image for 3 s"):
        list(camera.stream(response))


class _Closing:
    """A streamed response as ``with`` uses it."""

    def __init__(self, inner):
        self.headers, self.raw = inner.headers, inner.raw

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
