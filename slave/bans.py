"""Viewers a broadcaster threw out (U7), refused here until their ban ends, whichever
master issued the tickets they still hold."""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

from common.errors import ErrorCode, RequestError


class Bans:
    def __init__(self, reactor: IReactorTime):
        self.reactor = reactor
        self.until: dict[tuple[str, str], float] = {}  # (broadcaster, viewer) -> until

    def ban(self, target: str, viewer: str, until: float) -> None:
        self.until[target, viewer] = until

    def check(self, target: str, viewer: str) -> None:
        until = self.until.get((target, viewer))
        if until is not None and self.reactor.seconds() < until:
            raise RequestError(ErrorCode.REMOVED, f"{target} removed you")

    def expire(self, now: float) -> None:
        self.until = {key: until for key, until in self.until.items() if until > now}
