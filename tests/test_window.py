"""The viewer window (S4) on a virtual X display: status line, zoom, full screen, quit."""

import json
import os
import shutil
import subprocess
import time

import pytest

from client.sources import TestPattern
from tests.conftest import broadcast_entry, wait_until


@pytest.fixture(scope="module")
def display():
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (.ci/run installs the xvfb package)")
    number = 90 + os.getpid() % 100
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: os.path.exists(f"/tmp/.X11-unix/X{number}"), 10)
    yield f":{number}"
    server.terminate()
    server.wait(10)


def test_window_zoom_fullscreen_and_quit(display, monkeypatch):
    monkeypatch.setenv("DISPLAY", display)
    import cv2

    from client import codecs
    from client.window import Window, status_line
    from common.protocol import Codec, FrameInfo

    window = Window("framecast test", "100")
    data = codecs.encode(TestPattern().read(), Codec.JPEG, 7)
    window.frame(FrameInfo(1, time.time(), 640, 480, Codec.JPEG), memoryview(data))
    window.show(status_line(time.time(), 15.0, 2400))
    assert window.image.shape == (480, 640, 3)
    window._key(ord("2"))
    window.show("zoomed")
    assert window.scale == 2
    window._key(ord("f"))
    assert window.fullscreen
    assert cv2.getWindowProperty("framecast test", cv2.WND_PROP_FULLSCREEN) == cv2.WINDOW_FULLSCREEN
    window._key(ord("q"))
    assert not window.open
    window.close()


def test_status_line():
    from client.window import status_line

    assert status_line(0, 0, 0) == "last image --:--:--   0.0 fps   0 kbps"
    assert "15.0 fps   2400 kbps" in status_line(time.time(), 15, 2400)


def test_view_window_from_the_command_line(cluster, user, display, monkeypatch):
    monkeypatch.setenv("DISPLAY", display)
    star, fan = user("windowstar"), user("windowfan")
    broadcaster = star.start("broadcast", "--duration", "30")
    try:
        wait_until(lambda: broadcast_entry(fan, "windowstar"), 15)
        out = fan.ok("view", "windowstar", "--window", "--zoom", "200", "--frames", "20", "--json")
        assert json.loads(out.splitlines()[-1])["frames"] == 20
    finally:
        broadcaster.terminate()
        broadcaster.wait(10)
