"""Commands typed on standard input while broadcasting or viewing: ``p`` (or ``pause``)
and ``r`` (or ``resume``). Works with a terminal and with a pipe; ignored once stdin ends."""

from __future__ import annotations

import os
import select
import sys

PAUSE = "pause"
RESUME = "resume"
WORDS = {"p": PAUSE, "pause": PAUSE, "r": RESUME, "resume": RESUME}


class StdinCommands:
    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self.open = self.stream is not None and not self.stream.closed
        self._pending = b""

    def poll(self) -> list[str]:
        """The commands typed since the last poll, without blocking."""
        if not self.open:
            return []
        fd = self.stream.fileno()
        commands = []
        while select.select([fd], [], [], 0)[0]:
            data = os.read(fd, 1024)
            if not data:
                self.open = False
                break
            self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            word = WORDS.get(line.decode(errors="replace").strip().lower())
            if word:
                commands.append(word)
        return commands
