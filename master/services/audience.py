"""A broadcaster's audience (U7): who watches now, gathered from the slaves carrying its
viewers, and throwing one of them out."""

from __future__ import annotations

from typing import Callable

from common.errors import ErrorCode, RequestError
from common.messages.admission import ThrowViewer, ViewerList, ViewersQuery
from master.services.slave_links import SlaveLinks
from master.storage.db.admissions import Admissions
from master.storage.store import Store, stored


class Audience:
    """``throw_ban``: the seconds a thrown-out viewer needs a new request to come back."""

    def __init__(
        self, store: Store, admissions: Admissions, links: SlaveLinks, clock: Callable[[], float], throw_ban: float
    ):
        self.store = store
        self.admissions = admissions
        self.links = links
        self.clock = clock
        self.throw_ban = throw_ban

    async def throw(self, broadcaster: str, viewer: str) -> str:
        """End ``viewer``'s streams of this broadcast at once; it may come back only through
        a new request the broadcaster accepts, until the ban ends."""
        sessions = [
            e
            for e in await stored(self.store.viewer_sessions(viewer))
            if e.target == broadcaster and viewer != broadcaster
        ]
        if not sessions:
            raise RequestError(ErrorCode.NOT_WATCHING, f"{viewer} is not watching you")
        now = self.clock()
        until = now + self.throw_ban
        await self.admissions.throw(broadcaster, viewer, now, until)
        for slave in {e.slave for e in sessions}:
            await self.links.send(slave, ThrowViewer(broadcaster, viewer, until))
        return f"removed {viewer}"

    async def viewers(self, broadcaster: str) -> ViewerList:
        """Who watches ``broadcaster`` now, from every slave carrying its viewers."""
        entries = [e for e in await stored(self.store.broadcasts()) if e.user == broadcaster and e.confirmed]
        if not entries:
            raise RequestError(ErrorCode.NOT_BROADCASTING, "you are not broadcasting")
        slaves = {e.slave for e in await stored(self.store.all_viewer_sessions()) if e.target == broadcaster}
        rows = []
        for slave in sorted(slaves | {entries[0].slave}):
            report = await self.links.ask(slave, lambda query, me: ViewersQuery(query, me, broadcaster))
            rows.extend(report.viewers if report is not None else ())
        return ViewerList(tuple(sorted(rows, key=lambda row: (row.since, row.user))))
