"""Cameras FFmpeg opens (RTSP, RTSPS, RTMP, SRT, HTTP video), demuxed with PyAV.

PyAV rather than OpenCV's FFmpeg backend: it hands over the compressed packets, so the
JPEG of an RTSP camera's MJPEG track is forwarded without decoding; it reports why an open
failed (refused credentials, an unknown host, no video) instead of a bare ``False``; and it
takes open and read timeouts, which turn a stalled camera into an error we can retry. A
protocol PyAV's build lacks (SRT in its wheels) goes to the ``ffmpeg`` program instead
(``client/ffmpeg_process.py``).
"""

from __future__ import annotations

import time
from typing import Iterator

import av

from client import ffmpeg_process
from client.frames import Captured
from client.source_errors import SourceError, SourceLost
from client.source_urls import SourceUrl

OPEN_TIMEOUT = 10.0


def open_ffmpeg(source: SourceUrl, stall: float) -> Iterator[Captured]:
    """The camera's frames; SourceError if it cannot be opened or has no decodable video."""
    options = {"rtsp_transport": "tcp"} if source.scheme in ("rtsp", "rtsps") else {}
    try:
        container = av.open(source.url, options=options, timeout=(OPEN_TIMEOUT, stall))
    except av.error.ProtocolNotFoundError:
        if not ffmpeg_process.available():
            raise SourceError(f"{source.scheme}:// needs the ffmpeg program (this PyAV lacks it)") from None
        return ffmpeg_process.open_with_ffmpeg(source, stall, copy=False)
    except av.error.HTTPUnauthorizedError:
        raise SourceError(f"the camera at {source.shown} refused the credentials (401 Unauthorized)") from None
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open {source.shown}: {source.redact(_reason(exc))}") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{source.shown} has no video")
    stream = container.streams.video[0]
    name = stream.codec_context.name if stream.codec_context else "unknown"
    if stream.codec_context is None or not _decodable(name):
        container.close()
        raise SourceError(f"{source.shown}: unsupported codec {name}")
    return _frames(container, stream, source)


def _decodable(name: str) -> bool:
    try:
        av.codec.Codec(name, "r")
    except (av.error.FFmpegError, ValueError, av.codec.codec.UnknownCodecError):
        return False
    return True


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _frames(container, stream, source: SourceUrl) -> Iterator[Captured]:
    """JPEG packets as they are (an MJPEG track), other video decoded; capture time is arrival."""
    jpeg = stream.codec_context.name == "mjpeg"
    try:
        with container:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                now = time.time()
                if jpeg:
                    yield Captured.of_jpeg(bytes(packet), now)
                    continue
                for frame in packet.decode():
                    yield Captured.of_image(frame.to_ndarray(format="bgr24"), now)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise SourceLost(source.redact(_reason(exc))) from None
    raise SourceLost("the camera ended its stream")
