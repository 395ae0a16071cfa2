"""Cameras whose protocol PyAV's own FFmpeg lacks (its wheels are built without SRT, say),
read through the system's ``ffmpeg`` program when there is one.

``ffmpeg`` opens the URL and writes JPEGs as an MJPEG stream (its ``mpjpeg`` muxer: the
multipart format of MJPEG cameras) on its standard output, which the same parser as for HTTP
cameras reads (``client/multipart.py``). An MJPEG source is copied, not re-encoded, so its
JPEGs still pass through byte for byte.
"""

from __future__ import annotations

import itertools
import select
import shutil
import subprocess
import time
from typing import Iterator

from client.frames import Captured
from client.multipart import MultipartParser
from client.source_errors import SourceError, SourceLost
from client.source_urls import SourceUrl

BOUNDARY = b"ffmpeg"  # what the mpjpeg muxer writes
READ_SIZE = 65536
FIRST_IMAGE_WITHIN = 15.0  # seconds: ffmpeg first probes the stream (a second, here)


def available() -> bool:
    return shutil.which("ffmpeg") is not None


def open_with_ffmpeg(source: SourceUrl, stall: float, copy: bool) -> Iterator[Captured]:
    """The camera's frames through ``ffmpeg``; SourceError if no image comes soon after the
    start (ffmpeg's last line says why, credentials hidden)."""
    codec = ["-c:v", "copy"] if copy else ["-c:v", "mjpeg", "-q:v", "3"]
    probe = ["-analyzeduration", "1000000", "-probesize", "1000000"]
    process = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-loglevel", "error", *probe, "-i", source.url, "-an", *codec, "-f", "mpjpeg", "-"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    frames = _frames(process, source, stall, FIRST_IMAGE_WITHIN)
    try:
        first = next(frames)
    except SourceLost as exc:
        raise SourceError(f"cannot open {source.shown}: {exc}") from None
    return itertools.chain([first], frames)


def _frames(process: subprocess.Popen, source: SourceUrl, stall: float, first: float) -> Iterator[Captured]:
    parser = MultipartParser(BOUNDARY)
    deadline = time.monotonic() + first
    try:
        while True:
            if not select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise SourceLost(f"no image for {stall:g} s")
            chunk = process.stdout.read1(READ_SIZE)
            if not chunk:
                raise SourceLost(_why_it_ended(process, source))
            for body in parser.feed(chunk):
                deadline = time.monotonic() + stall
                yield Captured.of_jpeg(body)
    except ValueError as exc:
        raise SourceLost(f"ffmpeg sent a malformed stream: {exc}") from None
    finally:
        process.kill()
        process.wait()


def _why_it_ended(process: subprocess.Popen, source: SourceUrl) -> str:
    process.wait()
    lines = process.stderr.read().decode(errors="replace").strip().splitlines()
    return source.redact(lines[-1]) if lines else "the camera ended its stream"
