"""Where a broadcaster's images come from: a test pattern, a camera, a video file (S2), or a
camera URL (S2b, ``client.camera``).

The test pattern moves (a diagonal gradient scrolls and a box bounces), draws the frame
number and time, and also writes the frame number as a strip of 32 black/white blocks
along its top edge, so a test can read back which frame it got after JPEG compression.
"""

from __future__ import annotations

import os
import time

import cv2
import numpy as np

from client.errors import FramecastError
from client.source_urls import is_url

CODE_BITS = 32
CODE_BLOCK = 16


class TestPattern:
    __test__ = False  # not a pytest test class

    def __init__(self, width: int = 640, height: int = 480):
        if width < CODE_BITS * CODE_BLOCK or height < 4 * CODE_BLOCK:
            raise FramecastError(f"the test pattern needs at least {CODE_BITS * CODE_BLOCK}x{4 * CODE_BLOCK} pixels")
        self.width, self.height = width, height
        y, x = np.mgrid[0:height, 0:width]
        self._gradient = ((x + y) % 256).astype(np.uint8)
        self.count = 0

    def read(self) -> np.ndarray:
        self.count += 1
        n = self.count
        shade = self._gradient + np.uint8(n * 4 % 256)  # wraps around: the pattern scrolls
        image = cv2.merge([shade, 255 - shade, np.full_like(shade, 96)])
        box_x = (n * 7) % (self.width - 60)
        box_y = CODE_BLOCK * 2 + (n * 5) % (self.height - 60 - CODE_BLOCK * 2)
        cv2.rectangle(image, (box_x, box_y), (box_x + 60, box_y + 60), (255, 255, 255), -1)
        stamp = time.strftime("%H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # white on a black outline
            cv2.putText(
                image,
                f"frame {n}  {stamp}",
                (10, self.height - 16),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.8,
                colour,
                thickness,
                cv2.LINE_AA,
            )
        draw_code(image, n)
        return image

    def events(self) -> tuple:
        return ()  # never out, unlike a camera URL (client.live_source)

    def close(self) -> None:
        pass


def draw_code(image: np.ndarray, number: int) -> None:
    for bit in range(CODE_BITS):
        value = 255 if number >> (CODE_BITS - 1 - bit) & 1 else 0
        image[0:CODE_BLOCK, bit * CODE_BLOCK : (bit + 1) * CODE_BLOCK] = value


def read_code(image: np.ndarray) -> int:
    """The frame number drawn by ``draw_code``, read from block centres."""
    half = CODE_BLOCK // 2
    number = 0
    for bit in range(CODE_BITS):
        number = number << 1 | int(image[half, bit * CODE_BLOCK + half].mean() > 127)
    return number


class VideoSource:
    """A camera or a video file, through OpenCV."""

    def __init__(self, capture: cv2.VideoCapture, size: tuple[int, int] | None):
        self.capture = capture
        self.size = size

    def read(self) -> np.ndarray | None:
        ok, image = self.capture.read()
        if not ok:
            return None
        if self.size and (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        return image

    def events(self) -> tuple:
        return ()

    def close(self) -> None:
        self.capture.release()


def open_source(spec: str, size: tuple[int, int] | None, **camera):
    """``test``, ``camera`` or ``camera:N``, a camera URL (``camera``: ``open_camera``'s
    options), or a path to any video OpenCV can read."""
    if is_url(spec):
        from client.camera import open_camera  # PyAV and requests, only for URLs

        return open_camera(spec, **camera)
    if spec == "test":  # smaller sizes are made by scaling the pattern down
        fits = size and size[0] >= CODE_BITS * CODE_BLOCK and size[1] >= 4 * CODE_BLOCK
        return TestPattern(*(size if fits else (640, 480)))
    if spec == "camera" or spec.startswith("camera:"):
        index = spec.partition(":")[2] or "0"
        if not index.isdigit():
            raise FramecastError(f"bad camera {spec!r}: use camera or camera:N")
        capture = cv2.VideoCapture(int(index))
        if not capture.isOpened():
            raise FramecastError(f"cannot open camera {index}")
        return VideoSource(capture, size)
    if not os.path.exists(spec):
        raise FramecastError(f"no such video file: {spec}")
    capture = cv2.VideoCapture(spec)
    if not capture.isOpened():
        raise FramecastError(f"cannot read video file {spec}")
    return VideoSource(capture, size)
