"""The chaos run's viewers, as the three kinds of client watch: the framecast client library
(``native``), an MJPEG player over HTTPS through the web front (``mjpeg``), and a browser's
WebSocket on the slave's web port (``ws``). Each notes when frames arrive (``Arrivals``),
keeps reconnecting as long as the run lasts (as a player left running does), and reports
the gaps between frames, from which the run reads how long each fault kept it waiting.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import time
from typing import Callable

import requests

from client.admission import admitted
from client.errors import FramecastError
from client.masters import Masters
from client.multipart import MultipartParser, boundary_of
from client.view_state import Thrown
from client.viewer import Viewer
from common.addresses import parse_hostport
from common.messages import parse
from common.messages.streaming import ViewStart
from common.protocol import Decoder, MessageType as T, encode_ack, frame_seq_and_time
from common.websocket_client import PONG, client_frame, server_frame

GAP = 0.6  # seconds without a frame that count as an interruption (frames come 5 a second)


class Arrivals:
    """When frames arrived for one viewer: the first, the last, and every gap over ``GAP``."""

    def __init__(self, emit: Callable[[dict], None], who: str):
        self.emit, self.who = emit, who
        self.last = 0.0
        self.frames = 0

    def frame(self) -> None:
        now = time.time()
        if self.last == 0.0:
            self.emit({"event": "first_frame", "who": self.who, "at": now})
        elif now - self.last > GAP:
            self.emit({"event": "gap", "who": self.who, "start": self.last, "end": now})
        self.last, self.frames = now, self.frames + 1

    def close(self) -> None:
        self.emit({"event": "viewer_end", "who": self.who, "last": self.last, "frames": self.frames, "at": time.time()})


def native(task: dict, masters: Callable[[], Masters], running: Callable[[], bool], emit) -> None:
    arrivals = Arrivals(emit, task["who"])
    while running():
        viewer = Viewer(masters(), task["token"], task["target"], reconnect_deadline=3600)
        viewer.on_frame = lambda info, image: arrivals.frame()
        viewer.on_event = lambda text: emit({"event": "note", "who": task["who"], "at": time.time(), "text": text})
        try:
            viewer.run(keep_going=running)
        except Thrown as exc:
            emit({"event": "thrown", "who": task["who"], "at": time.time(), "text": str(exc)})
        except FramecastError as exc:
            emit({"event": "viewer_error", "who": task["who"], "at": time.time(), "text": str(exc)})
        pause(running, 1.0)
    arrivals.close()


def mjpeg(task: dict, ca: str, web: str, running: Callable[[], bool], emit) -> None:
    """A player on /watch/USER.mjpg with a token, following the redirect to the slave."""
    arrivals = Arrivals(emit, task["who"])
    url = f"{web}/watch/{task['target']}.mjpg"
    while running():
        try:
            with requests.get(url, params={"token": task["token"]}, verify=ca, stream=True, timeout=5) as answer:
                if answer.status_code != 200:
                    emit({"event": "viewer_error", "who": task["who"], "at": time.time(), "text": answer.text[:200]})
                else:
                    parser = MultipartParser(boundary_of(answer.headers["Content-Type"]))
                    for chunk in answer.iter_content(65536):
                        for _ in parser.feed(chunk):
                            arrivals.frame()
                        if not running():
                            break
        except (requests.RequestException, OSError, ValueError) as exc:
            emit({"event": "viewer_error", "who": task["who"], "at": time.time(), "text": str(exc)[:200]})
        pause(running, 0.5)
    arrivals.close()


def websocket(task: dict, masters: Callable[[], Masters], ca: str, running: Callable[[], bool], emit) -> None:
    """The page's way: a redirect from a master, then /ws on the slave's web port, where the
    framecast protocol runs in binary WebSocket messages; each frame acknowledged."""
    arrivals = Arrivals(emit, task["who"])
    context = ssl.create_default_context(cafile=ca)
    while running():
        try:
            link = masters()
            link.attach(task["token"])  # where the broadcaster's yes comes, if it must say it
            ask = lambda: link.view_redirect(task["token"], task["target"])  # noqa: E731
            redirect = admitted(link, ask, lambda text: None, lambda event: None)
            _watch_ws(redirect, context, arrivals, running)
        except (FramecastError, OSError, ValueError) as exc:
            emit({"event": "viewer_error", "who": task["who"], "at": time.time(), "text": str(exc)[:200]})
        pause(running, 0.5)
    arrivals.close()


def _watch_ws(redirect, context: ssl.SSLContext, arrivals: Arrivals, running) -> None:
    host, port = parse_hostport(redirect.web)
    with context.wrap_socket(socket.create_connection((host, port), timeout=5), server_hostname=host) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: {redirect.web}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: framecast\r\n\r\n".encode()
        )
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(4096)
            if not chunk:
                raise ValueError("the slave closed the WebSocket handshake")
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ValueError(f"the slave refused the WebSocket: {head.splitlines()[0].decode(errors='replace')}")
        sock.sendall(client_frame(ViewStart(redirect.ticket).encode()))
        decoder = Decoder()
        sock.settimeout(10)
        while running():
            while (frame := server_frame(buffer)) is not None:
                opcode, payload, used = frame
                buffer = buffer[used:]
                if opcode == 0x8:
                    return
                if opcode == 0x9:  # the slave's ping: a browser answers with a pong
                    sock.sendall(client_frame(payload, opcode=PONG))
                for message in decoder.feed(payload) if opcode in (0x0, 0x2) else ():
                    if message.type == T.FRAME:
                        seq, _ = frame_seq_and_time(message.body)
                        sock.sendall(client_frame(encode_ack(seq)))
                        arrivals.frame()
                    elif message.type in (T.ERROR, T.RECONNECT, T.MOVE, T.BROADCAST_ENDED, T.REMOVED):
                        raise ValueError(f"the slave said {parse(message).__class__.__name__}")
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk


def pause(running: Callable[[], bool], seconds: float) -> None:
    end = time.monotonic() + seconds
    while running() and time.monotonic() < end:
        time.sleep(0.1)
