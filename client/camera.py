"""``--source URL``: which reader a camera URL gets, decided once when it first opens.

``auto`` asks an http(s) URL what it is (an MJPEG stream, a JPEG snapshot, or video for
FFmpeg) and sends every other scheme to FFmpeg; ``stream``, ``snapshot`` and ``ffmpeg``
say it outright (a snapshot URL that answers with the wrong Content-Type, say).
"""

from __future__ import annotations

import threading
from typing import Iterator

from client.ffmpeg_camera import open_ffmpeg
from client.frames import Captured
from client.http_camera import HttpCamera
from client.live_source import LiveSource
from client.source_errors import SourceError
from client.source_urls import SourceUrl, redact

KINDS = ("auto", "stream", "snapshot", "ffmpeg")
MJPEG = "multipart/x-mixed-replace"


def open_camera(
    spec: str,
    user: str | None = None,
    password: str | None = None,
    kind: str = "auto",
    interval: float = 1 / 15,
    stall: float = 5.0,
) -> LiveSource:
    """A started LiveSource for the camera at ``spec``; SourceError if it cannot be used."""
    try:
        source = SourceUrl.parse(spec, user, password)
    except ValueError as exc:
        raise SourceError(f"bad camera URL {redact(spec)}: {exc}") from None
    stopping = threading.Event()
    if kind == "ffmpeg" or source.scheme not in ("http", "https"):
        return LiveSource(source.shown, lambda: open_ffmpeg(source, stall), stopping).start()
    camera = HttpCamera(source, stall, stopping)
    first = camera.get()
    kind = kind if kind != "auto" else _kind_of(first.headers.get("Content-Type", ""))
    if kind == "ffmpeg":
        first.close()
        return LiveSource(source.shown, lambda: open_ffmpeg(source, stall), stopping).start()
    answers = iter([first])

    def opener() -> Iterator[Captured]:
        response = next(answers, None) or camera.get()
        if kind == "snapshot":
            return camera.snapshots(response, interval)
        if not response.headers.get("Content-Type", "").lower().startswith("multipart/"):
            response.close()
            raise SourceError(f"{source.shown} is not an MJPEG stream (Content-Type {_type(response)})")
        return camera.stream(response)

    return LiveSource(source.shown, opener, stopping).start()


def _kind_of(content_type: str) -> str:
    content_type = content_type.lower()
    if content_type.startswith(MJPEG):
        return "stream"
    return "snapshot" if content_type.startswith("image/jpeg") else "ffmpeg"


def _type(response) -> str:
    return response.headers.get("Content-Type", "none")[:60]
