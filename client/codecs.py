"""Compressing and decompressing images: JPEG (OpenCV) and JPEG 2000 (imagecodecs)."""

from __future__ import annotations

import cv2
import imagecodecs
import numpy as np

from client.errors import FramecastError
from common.protocol import Codec

CODECS = {"jpeg": Codec.JPEG, "jpeg2000": Codec.JPEG2000}
EXTENSIONS = {Codec.JPEG: ".jpg", Codec.JPEG2000: ".jp2"}


def jpeg_quality(quality: int) -> int:
    """The user's 0-10 quality as libjpeg's 1-100 (0 -> 10, 5 -> 52, 10 -> 95)."""
    return round(10 + 8.5 * quality)


def jpeg2000_level(quality: int) -> float:
    """The user's 0-10 quality as a JPEG 2000 target PSNR in dB (0 -> 25, 10 -> 50)."""
    return 25 + 2.5 * quality


def encode(image: np.ndarray, codec: Codec, quality: int) -> bytes:
    if codec == Codec.JPEG:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality(quality)])
        if not ok:
            raise FramecastError("JPEG encoding failed")
        return data.tobytes()
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return imagecodecs.jpeg2k_encode(rgb, level=jpeg2000_level(quality), codecformat="jp2")


def decode(codec: int, data: bytes | memoryview) -> np.ndarray:
    """A BGR image; ValueError if the bytes are not an image of that codec."""
    if codec == Codec.JPEG:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("not a JPEG image")
        return image
    if codec == Codec.JPEG2000:
        try:
            rgb = imagecodecs.jpeg2k_decode(bytes(data))
        except Exception as exc:  # imagecodecs raises its own error classes per codec
            raise ValueError(f"not a JPEG 2000 image: {exc}") from None
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    raise ValueError(f"unknown codec {codec}")
