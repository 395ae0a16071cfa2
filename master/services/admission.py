"""Admitting viewers (U3-U7): the master applies the access policy (``access.decide``) to
each view request, puts requests to the broadcaster, carries answers, invitations and
throws, and gathers the viewer list from the slaves.

A request that needs the broadcaster's answer is stored in PostgreSQL and pushed to the
broadcaster's sessions; the viewer waits (and asks again, so a master dying on either side
loses nothing) until the answer, or until the request expires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.errors import ErrorCode, RequestError
from common.messages.accounts import Redirect, ViewRequest
from common.messages.admission import (
    AccessAnswer,
    Answer,
    AskAnswered,
    Decline,
    Invitation,
    InvitationDeclined,
    Invite,
    ThrowViewer,
    ViewAnswer,
    ViewAsk,
    ViewerList,
    ViewersQuery,
    ViewPending,
)
from common.messages.social import AccessList
from common.tokens import LoginClaims
from master.policy.access import Decision, decide, refusal
from master.policy.records import BroadcastEntry
from master.services.floods import Flood
from master.storage.store import stored

if TYPE_CHECKING:
    from master.node import Master
    from master.services.events import AttachedSession


class Admission:
    def __init__(self, master: "Master"):
        self.master = master

    async def view(self, viewer: LoginClaims, request: ViewRequest, relay: bool = True) -> Redirect | ViewPending:
        """A request to watch (counted against the viewer's flood limit), from any front.
        ``relay`` False sends it to the broadcast's own slave: a snapshot takes one image,
        which a relay started for it would not have yet."""
        master = self.master
        await master.floods.check(Flood.VIEW_USER, viewer.user)
        entry, slave, others = await master.redirects.find_broadcast(request.target, viewer.user)
        now = master.clock()
        standing = (await master.admissions.standings(viewer.user, {entry.user: entry.session}))[entry.user]
        decision = decide(standing, now)
        if decision == Decision.ADMIT:
            if standing.invited_at is not None:
                await master.admissions.use_invitation(entry.user, viewer.user, entry.session, now)
            node = await master.relays.place_viewer(entry) if relay else None  # None: the origin
            return master.redirects.view_redirect(viewer, entry, slave, others, request.speed_kbps, request.link, node)
        if decision == Decision.REFUSE:
            raise RequestError(ErrorCode.ACCESS_REFUSED, refusal(entry.user, standing))
        if decision == Decision.IGNORE:  # dropped: the broadcaster never hears of it
            return ViewPending(entry.user, now + master.config.request_ttl)
        return await self._ask(viewer.user, entry, now)

    async def _ask(self, viewer: str, entry: BroadcastEntry, now: float) -> ViewPending:
        master = self.master
        ttl = master.config.request_ttl
        request, created = await master.admissions.ask(viewer, entry.user, entry.session, now, ttl)
        if request.answer == "denied":
            raise RequestError(ErrorCode.DECLINED, f"{entry.user} declined")
        if created:
            await master.events.push([entry.user], ViewAsk(viewer, request.expires_at))
        return ViewPending(entry.user, request.expires_at)

    async def answer(self, broadcaster: str, request: AccessAnswer) -> str:
        master = self.master
        accept = request.answer in (Answer.ACCEPT, Answer.ALWAYS)
        await master.admissions.answer(broadcaster, request.viewer, accept, master.clock())
        if request.answer in (Answer.ALWAYS, Answer.IGNORE):
            listed = AccessList.ALLOW if accept else AccessList.IGNORE
            await master.relations.change_list(broadcaster, request.viewer, listed, True)
        await master.events.push([request.viewer], ViewAnswer(broadcaster, accept))
        await master.events.push([broadcaster], AskAnswered(request.viewer, accept))
        return f"{request.viewer} {'may' if accept else 'may not'} watch you"

    async def invite(self, broadcaster: str, request: Invite) -> str:
        master = self.master
        await master.admissions.invite(broadcaster, request.user, master.clock())
        await master.events.push([request.user], Invitation(broadcaster))
        return f"invited {request.user}"

    async def decline(self, viewer: str, request: Decline) -> str:
        await self.master.admissions.decline(viewer, request.user)
        await self.master.events.push([request.user], InvitationDeclined(viewer))
        return f"declined {request.user}'s invitation"

    async def throw(self, broadcaster: str, viewer: str) -> str:
        """End ``viewer``'s streams of this broadcast at once; it may come back only through
        a new request the broadcaster accepts, until the ban ends."""
        master = self.master
        sessions = [
            e
            for e in await stored(master.store.viewer_sessions(viewer))
            if e.target == broadcaster and viewer != broadcaster
        ]
        if not sessions:
            raise RequestError(ErrorCode.NOT_WATCHING, f"{viewer} is not watching you")
        now = master.clock()
        until = now + master.config.throw_ban
        await master.admissions.throw(broadcaster, viewer, now, until)
        for slave in {e.slave for e in sessions}:
            await master.links.send(slave, ThrowViewer(broadcaster, viewer, until))
        return f"removed {viewer}"

    async def viewers(self, broadcaster: str) -> ViewerList:
        """Who watches ``broadcaster`` now, from every slave carrying its viewers."""
        master = self.master
        entries = [e for e in await stored(master.store.broadcasts()) if e.user == broadcaster and e.confirmed]
        if not entries:
            raise RequestError(ErrorCode.NOT_BROADCASTING, "you are not broadcasting")
        slaves = {e.slave for e in await stored(master.store.all_viewer_sessions()) if e.target == broadcaster}
        rows = []
        for slave in sorted(slaves | {entries[0].slave}):
            report = await master.links.ask(slave, lambda query, me: ViewersQuery(query, me, broadcaster))
            rows.extend(report.viewers if report is not None else ())
        return ViewerList(tuple(sorted(rows, key=lambda row: (row.since, row.user))))

    async def watchable(self, viewer: str, broadcasts: list[BroadcastEntry]) -> dict[str, Decision]:
        """How ``viewer`` may watch each of these broadcasts: admit or ask (others left out)."""
        standings = await self.master.admissions.standings(viewer, {b.user: b.session for b in broadcasts})
        now = self.master.clock()
        decisions = {user: decide(standing, now) for user, standing in standings.items()}
        return {user: d for user, d in decisions.items() if d in (Decision.ADMIT, Decision.ASK)}

    async def catch_up(self, session: "AttachedSession", user: str) -> None:
        """A session that just attached hears what it missed: open requests to watch this
        user, and invitations to watch others."""
        master = self.master
        for viewer, expires_at in await master.admissions.open_asks(user, master.clock()):
            session.send(ViewAsk(viewer, expires_at))
        for broadcaster in await master.admissions.invitations(user):
            session.send(Invitation(broadcaster))
