"""The viewer's OpenCV window (feature S4): the image, a status line, zoom and full screen.

Keys: 1 / 2 / 3 zoom to 100 / 200 / 300 %, f toggles full screen, p pauses and resumes,
q or Esc closes.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from client import codecs
from client.errors import FramecastError
from common.protocol import FrameInfo

ZOOMS = {"100": 1, "200": 2, "300": 3}
STATUS_HEIGHT = 24


class Window:
    def __init__(self, title: str, zoom: str = "100"):
        self.title = title
        self.scale = ZOOMS.get(zoom, 1)
        self.fullscreen = zoom == "full"
        self.open = True
        self.paused = False
        self.image: np.ndarray | None = None
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise FramecastError(f"cannot open a window (is there a display?): {exc.msg.strip()}") from None
        self._apply_fullscreen()

    def frame(self, info: FrameInfo, data: memoryview) -> None:
        try:
            self.image = codecs.decode(info.codec, data)
        except ValueError:
            return  # a corrupt image is skipped; the next one replaces it

    def show(self, status: str) -> None:
        """Redraw the newest image with the status line, and handle keys."""
        if self.image is not None:
            image = (
                self.image
                if self.scale == 1
                else cv2.resize(self.image, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_NEAREST)
            )
            bar = np.zeros((STATUS_HEIGHT, image.shape[1], 3), np.uint8)
            cv2.putText(bar, status, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
            cv2.imshow(self.title, np.vstack([image, bar]))
        self._key(cv2.waitKey(1) & 0xFF)
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.open = False

    def _key(self, key: int) -> None:
        if key in (ord("q"), 27):
            self.open = False
        elif chr(key) in "123":
            self.scale = int(chr(key))
            self.fullscreen = False
            self._apply_fullscreen()
        elif key == ord("p"):
            self.paused = not self.paused
        elif key == ord("f"):
            self.fullscreen = not self.fullscreen
            self._apply_fullscreen()

    def _apply_fullscreen(self) -> None:
        mode = cv2.WINDOW_FULLSCREEN if self.fullscreen else cv2.WINDOW_NORMAL
        cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, mode)

    def close(self) -> None:
        cv2.destroyWindow(self.title)


def status_line(last_frame_time: float, fps: float, kbps: float, paused: bool = False) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(last_frame_time)) if last_frame_time else "--:--:--"
    return f"last image {stamp}   {fps:.1f} fps   {kbps:.0f} kbps" + ("   PAUSED (p resumes)" if paused else "")
