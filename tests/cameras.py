"""Network cameras for tests: a real HTTP server serving MJPEG and JPEG snapshots, with
basic auth, that can be stopped and started again on its port (a camera rebooting), and
an RTSP camera served by GStreamer's RTSP server in a process of its own."""

from __future__ import annotations

import base64
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

from client.sources import TestPattern

BOUNDARY = "camboundary"


def camera_jpegs(count: int = 30, size: tuple[int, int] = (640, 480)) -> list[bytes]:
    """Distinct JPEGs of the test pattern (each with its frame number in the code strip)."""
    pattern = TestPattern(*size)
    return [cv2.imencode(".jpg", pattern.read(), [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for _ in range(count)]


class HttpCamera:
    """``/video.mjpg`` (a multipart stream at ``fps``, looping over ``jpegs``) and
    ``/snapshot.jpg`` (the next JPEG each request) on 127.0.0.1."""

    def __init__(self, jpegs: list[bytes], fps: float = 15.0, login: tuple[str, str] | None = None):
        self.jpegs, self.fps, self.login = jpegs, fps, login
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.live = threading.Event()
        self.stopped = threading.Event()  # what a stream waits on between frames
        self.served = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "HttpCamera":
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.live.set()
        self.stopped.clear()
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Refuse connections and end the streams under way, as a camera that lost power."""
        self.live.clear()
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def _next(self) -> bytes:
        data = self.jpegs[self.served % len(self.jpegs)]
        self.served += 1
        return data

    def _handler(self):
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if camera.login and not self._authorized():
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                    self.end_headers()
                elif self.path == "/snapshot.jpg":
                    self._snapshot()
                elif self.path == "/video.mjpg":
                    self._stream()
                else:
                    self.send_error(404)

            def _authorized(self) -> bool:
                expected = base64.b64encode(":".join(camera.login).encode()).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

            def _snapshot(self) -> None:
                data = camera._next()
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                due = time.monotonic()
                try:
                    while camera.live.is_set():
                        data = camera._next()
                        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                        self.wfile.write(head.encode() + data + b"\r\n")
                        due += 1 / camera.fps
                        camera.stopped.wait(max(0.0, due - time.monotonic()))
                except OSError:
                    pass  # the broadcaster went away

        return Handler


RTSP_SERVER = """
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch("( videotestsrc is-live=true ! video/x-raw,format=I420,width=320,height=240,framerate=15/1"
                   " ! jpegenc ! rtpjpegpay name=pay0 pt=26 )")
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
"""


def rtsp_available() -> bool:
    if not shutil.which("/usr/bin/python3"):
        return False
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    return subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True).returncode == 0


def start_rtsp(port: int) -> subprocess.Popen:
    """GStreamer's RTSP server with an MJPEG track at rtsp://127.0.0.1:PORT/cam."""
    process = subprocess.Popen(
        ["/usr/bin/python3", "-c", RTSP_SERVER, str(port)], stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    assert process.stdout.readline().strip() == "ready"
    return process
