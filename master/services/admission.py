"""Admitting viewers (U3-U7): the master applies the access policy (``access.decide``) to
each view request, puts requests to the broadcaster, and carries answers and invitations.

A request that needs the broadcaster's answer is stored in PostgreSQL and pushed to the
broadcaster's sessions; the viewer waits (and asks again, so a master dying on either side
loses nothing) until the answer, or until the request expires.
"""

from __future__ import annotations

from typing import Callable

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
    ViewAnswer,
    ViewAsk,
    ViewPending,
)
from common.messages.social import AccessList
from common.tokens import LoginClaims
from master.policy.access import Decision, decide, refusal
from master.policy.limits import Flood
from master.policy.records import BroadcastEntry
from master.services.events import AttachedSession, Events
from master.services.floods import Floods
from master.services.redirects import Redirects
from master.services.relays import Relays
from master.storage.db.admissions import Admissions
from master.storage.db.relations import Relations


class Admission:
    def __init__(
        self,
        admissions: Admissions,
        relations: Relations,
        floods: Floods,
        redirects: Redirects,
        relays: Relays,
        events: Events,
        clock: Callable[[], float],
        request_ttl: float,
    ):
        self.admissions = admissions
        self.relations = relations
        self.floods = floods
        self.redirects = redirects
        self.relays = relays
        self.events = events
        self.clock = clock
        self.request_ttl = request_ttl

    async def view(self, viewer: LoginClaims, request: ViewRequest, relay: bool = True) -> Redirect | ViewPending:
        """A request to watch (counted against the viewer's flood limit), from any front.
        ``relay`` False sends it to the broadcast's own slave: a snapshot takes one image,
        which a relay started for it would not have yet."""
        await self.floods.check(Flood.VIEW_USER, viewer.user)
        entry, slave, others = await self.redirects.find_broadcast(request.target, viewer.user)
        now = self.clock()
        standing = (await self.admissions.standings(viewer.user, {entry.user: entry.session}))[entry.user]
        decision = decide(standing, now)
        if decision == Decision.ADMIT:
            if standing.invited_at is not None:
                await self.admissions.use_invitation(entry.user, viewer.user, entry.session, now)
            node = await self.relays.place_viewer(entry) if relay else None  # None: the origin
            return self.redirects.view_redirect(viewer, entry, slave, others, request.speed_kbps, request.link, node)
        if decision == Decision.REFUSE:
            raise RequestError(ErrorCode.ACCESS_REFUSED, refusal(entry.user, standing))
        if decision == Decision.IGNORE:  # dropped: the broadcaster never hears of it
            return ViewPending(entry.user, now + self.request_ttl)
        return await self._ask(viewer.user, entry, now)

    async def _ask(self, viewer: str, entry: BroadcastEntry, now: float) -> ViewPending:
        request, created = await self.admissions.ask(viewer, entry.user, entry.session, now, self.request_ttl)
        if request.answer == "denied":
            raise RequestError(ErrorCode.DECLINED, f"{entry.user} declined")
        if created:
            await self.events.push([entry.user], ViewAsk(viewer, request.expires_at))
        return ViewPending(entry.user, request.expires_at)

    async def answer(self, broadcaster: str, request: AccessAnswer) -> str:
        accept = request.answer in (Answer.ACCEPT, Answer.ALWAYS)
        await self.admissions.answer(broadcaster, request.viewer, accept, self.clock())
        if request.answer in (Answer.ALWAYS, Answer.IGNORE):
            listed = AccessList.ALLOW if accept else AccessList.IGNORE
            await self.relations.change_list(broadcaster, request.viewer, listed, True)
        await self.events.push([request.viewer], ViewAnswer(broadcaster, accept))
        await self.events.push([broadcaster], AskAnswered(request.viewer, accept))
        return f"{request.viewer} {'may' if accept else 'may not'} watch you"

    async def invite(self, broadcaster: str, request: Invite) -> str:
        await self.admissions.invite(broadcaster, request.user, self.clock())
        await self.events.push([request.user], Invitation(broadcaster))
        return f"invited {request.user}"

    async def decline(self, viewer: str, request: Decline) -> str:
        await self.admissions.decline(viewer, request.user)
        await self.events.push([request.user], InvitationDeclined(viewer))
        return f"declined {request.user}'s invitation"

    async def watchable(self, viewer: str, broadcasts: list[BroadcastEntry]) -> dict[str, Decision]:
        """How ``viewer`` may watch each of these broadcasts: admit or ask (others left out)."""
        standings = await self.admissions.standings(viewer, {b.user: b.session for b in broadcasts})
        now = self.clock()
        decisions = {user: decide(standing, now) for user, standing in standings.items()}
        return {user: d for user, d in decisions.items() if d in (Decision.ADMIT, Decision.ASK)}

    async def catch_up(self, session: AttachedSession, user: str) -> None:
        """A session that just attached hears what it missed: open requests to watch this
        user, and invitations to watch others."""
        for viewer, expires_at in await self.admissions.open_asks(user, self.clock()):
            session.send(ViewAsk(viewer, expires_at))
        for broadcaster in await self.admissions.invitations(user):
            session.send(Invitation(broadcaster))
