"""A frame as a source hands it to the broadcaster: ready JPEG bytes or a decoded image.

Network cameras mostly send JPEG already (MJPEG streams, snapshot URLs, RTSP with an MJPEG
track). Keeping those bytes lets the broadcaster forward them untouched (pass-through) when
nothing asks for another size or quality; only then is decoding skipped altogether.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

# Start-of-frame markers: baseline, extended, progressive, lossless (Huffman and arithmetic).
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class NoFrame:
    """What a live source's ``read`` returns when no new frame arrived since the last one."""

    def __repr__(self) -> str:
        return "NO_FRAME"


NO_FRAME = NoFrame()


@dataclass(frozen=True)
class Captured:
    width: int
    height: int
    capture_time: float = field(default_factory=time.time)
    jpeg: bytes | None = None
    image: np.ndarray | None = None

    @classmethod
    def of_jpeg(cls, data: bytes, capture_time: float | None = None) -> "Captured":
        """ValueError if ``data`` is not a JPEG image."""
        width, height = jpeg_size(data)
        return cls(width, height, capture_time or time.time(), jpeg=data)

    @classmethod
    def of_image(cls, image: np.ndarray, capture_time: float | None = None) -> "Captured":
        return cls(image.shape[1], image.shape[0], capture_time or time.time(), image=image)

    def decoded(self) -> np.ndarray:
        if self.image is not None:
            return self.image
        image = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("the source sent a JPEG image that does not decode")
        return image


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame header, without decoding it."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG image")
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("a damaged JPEG header")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in SOF_MARKERS:
            if at + 9 > len(data):
                break
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        at += 2 + length
    raise ValueError("a JPEG image without a frame header")
