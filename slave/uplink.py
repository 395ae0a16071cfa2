"""The link to a master this slave uses now, if one is up (``slave.master_link`` sets it)."""

from __future__ import annotations

from typing import Protocol

from common.messages.schema import Control


class MasterLink(Protocol):
    def report(self, message: Control) -> None: ...

    def check_alive(self, timeout: float) -> None: ...


class Uplink:
    def __init__(self) -> None:
        self.link: MasterLink | None = None

    def report(self, message: Control) -> None:
        """Send a report if a master link is up; if not, the full table sent when the
        link comes back covers it."""
        if self.link is not None:
            self.link.report(message)
