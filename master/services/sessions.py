"""Users' sessions attaching to this master and leaving it (U10).

A client session (a broadcast, a view, a chat) attaches its master connection: from then
on events for its user reach it (``events``), it counts towards the user's presence
(``presence``), and it hears what it missed: the node registers what, in ``on_attach``
(admission's open requests and invitations) and in ``events.catch_ups`` (messages).
"""

from __future__ import annotations

from typing import Awaitable, Callable

from common.errors import ErrorCode, RequestError
from common.messages.social import Attached
from master.services.events import AttachedSession, Events
from master.services.presence import UserPresence

MAX_ATTACHED = 32  # sessions one user may have attached to one master at once


class UserSessions:
    """``on_attach``: what a session that just attached is sent, besides messages."""

    def __init__(self, events: Events, presence: UserPresence):
        self.events = events
        self.presence = presence
        self.on_attach: list[Callable[[AttachedSession, str], Awaitable[None]]] = []

    def check_room_for(self, user: str) -> None:
        """Refuse a session past ``MAX_ATTACHED`` of one user here: each holds buffers."""
        if self.events.count(user) >= MAX_ATTACHED:
            raise RequestError(
                ErrorCode.RATE_LIMITED, f"{user} has {MAX_ATTACHED} sessions attached to this master already; end one"
            )

    async def attach(self, session: AttachedSession, user: str) -> None:
        since = session.attached.since
        was_online = await self.presence.online([user])
        if session.attached is None:
            return  # it closed meanwhile: its detach has run, so it must not be added now
        self.events.add(user, session)
        await self.presence.count(user, 1)
        session.send(Attached(user))
        for hook in self.on_attach:
            await hook(session, user)
        await self.events.catch_up(session, user, since)
        if not was_online:
            await self.presence.announce(user)

    async def detach(self, session: AttachedSession, user: str) -> None:
        self.events.remove(user, session)
        await self.presence.count(user, -1)
        if not await self.presence.online([user]):
            await self.presence.announce(user)
