"""Viewers a broadcaster threw out (U7), refused here whichever master issued the tickets
they still hold: until the ban ends, or until every ticket signed before the throw has
expired, if sooner. After that the masters alone decide (a new request the broadcaster
accepts), so a viewer let back in gets in."""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

from common.errors import ErrorCode, RequestError


class Bans:
    def __init__(self, reactor: IReactorTime, ticket_kept_for: float):
        """``ticket_kept_for``: how long a view ticket that passes a check now may go on
        passing (``NodeKeys.kept_for(ViewTicket)``)."""
        self.reactor = reactor
        self.ticket_kept_for = ticket_kept_for
        self.until: dict[tuple[str, str], float] = {}  # (broadcaster, viewer) -> until

    def ban(self, target: str, viewer: str, until: float) -> None:
        self.until[target, viewer] = min(until, self.reactor.seconds() + self.ticket_kept_for)

    def check(self, target: str, viewer: str) -> None:
        until = self.until.get((target, viewer))
        if until is not None and self.reactor.seconds() < until:
            raise RequestError(ErrorCode.REMOVED, f"{target} removed you")

    def expire(self, now: float) -> None:
        self.until = {key: until for key, until in self.until.items() if until > now}
