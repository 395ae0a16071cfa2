"""Users' attached sessions on this master, the events pushed to them, and presence (U10).

A client session (a broadcast, a view, a chat) attaches its master connection; events for
a user (a view request, an answer, an invitation, a message, a friend's presence) are
published through the store and every master delivers them to the sessions it holds, so
they reach the user whichever master each side is on. Presence is counted per master in
the store; a dead master's sessions stop counting, and the sweep tells friends.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.logger import Logger

from common.errors import ErrorCode, ProtocolError, RequestError
from common.messages import parse
from common.messages.accounts import TokensEnded
from common.messages.chat import ChatMessage
from common.messages.schema import Control
from common.messages.social import Attach, Attached, Presence, PresenceState
from common.protocol import Message
from master.storage.store import StoreUnavailable, stored

if TYPE_CHECKING:
    from master.node import Master


REORDER_WINDOW = 1000  # message ids a catch-up after an outage looks back, for late commits
MAX_ATTACHED = 32  # sessions one user may have attached to one master at once


class AttachedSession(Protocol):
    attached: Attach | None
    last_message: int  # the newest message sent to this session
    sent_messages: set[int]  # the ids of the messages sent lately (a message is sent once)
    catching_up: list | None  # messages held back while the session catches up, in order
    token_epoch: int  # of the token it attached with

    def send(self, message: Control) -> None: ...

    def drained(self) -> Deferred: ...
    def reject(self, code: ErrorCode, message: str) -> None: ...


class UserSessions:
    log = Logger()

    def __init__(self, master: "Master"):
        self.master = master
        self.local: dict[str, set[AttachedSession]] = {}

    # --- attaching ----------------------------------------------------------------------
    def check_room_for(self, user: str) -> None:
        """Refuse a session past ``MAX_ATTACHED`` of one user here: each holds buffers."""
        if len(self.local.get(user, ())) >= MAX_ATTACHED:
            raise RequestError(
                ErrorCode.RATE_LIMITED, f"{user} has {MAX_ATTACHED} sessions attached to this master already; end one"
            )

    async def attach(self, session: AttachedSession, user: str) -> None:
        since = session.attached.since
        was_online = await self.online([user])
        if session.attached is None:
            return  # it closed meanwhile: its detach has run, so it must not be added now
        session.catching_up = []  # from now on messages pushed to the session wait for its catch-up
        self.local.setdefault(user, set()).add(session)
        await stored(self.master.store.presence_change(self.master.config.id, user, 1))
        session.send(Attached(user))
        await self.master.admission.catch_up(session, user)
        await self.catch_up(session, user, since)
        if not was_online:
            await self.announce(user)

    async def catch_up(self, session: AttachedSession, user: str, since: int | None) -> None:
        """Send the session the messages after ``since`` (None: those the user has not
        seen) from the store; messages pushed meanwhile are held back and follow, so the
        session sees them in order."""
        if session.catching_up is None:
            session.catching_up = []
        try:
            await self.master.chat.catch_up(session, user, since)
        finally:
            held, session.catching_up = session.catching_up, None
            for event in held:
                self._send(session, event)

    async def catch_up_everyone(self) -> None:
        """After the event feed was lost: every session here catches up from the store
        (from a little before its newest message: ids are not always published in order)."""
        for user, sessions in list(self.local.items()):
            for session in list(sessions):
                since = max(0, session.last_message - REORDER_WINDOW) if session.last_message else None
                await self.catch_up(session, user, since)

    async def detach(self, session: AttachedSession, user: str) -> None:
        sessions = self.local.get(user, set())
        sessions.discard(session)
        if not sessions:
            self.local.pop(user, None)
        await stored(self.master.store.presence_change(self.master.config.id, user, -1))
        if not await self.online([user]):
            await self.announce(user)

    # --- presence -----------------------------------------------------------------------
    async def live_masters(self) -> list[str]:
        now, limit = self.master.clock(), self.master.config.dead_after
        return [m.id for m in await stored(self.master.store.masters()) if now - m.heartbeat <= limit] + [
            self.master.config.id
        ]

    async def online(self, users: list[str]) -> set[str]:
        return await stored(self.master.store.online(users, await self.live_masters()))

    async def presence(self, users: list[str]) -> dict[str, PresenceState]:
        online = await self.online(users)
        live = {b.user for b in await stored(self.master.store.broadcasts()) if b.confirmed}
        return {
            user: PresenceState.BROADCASTING
            if user in live
            else PresenceState.ONLINE
            if user in online
            else PresenceState.OFFLINE
            for user in users
        }

    async def announce(self, user: str) -> None:
        """Tell ``user``'s mutual friends what its presence is now."""
        friends = await self.master.relations.mutual(user)
        if friends:
            state = (await self.presence([user]))[user]
            await self.push(friends, Presence(user, state))

    async def forget_master(self, master_id: str) -> None:
        """A master died: its sessions no longer count; friends hear who went offline."""
        for user in await stored(self.master.store.clear_presence(master_id)):
            if not await self.online([user]):
                await self.announce(user)

    # --- events -------------------------------------------------------------------------
    async def push(self, users: list[str], event: Control) -> None:
        await stored(self.master.store.publish_event(users, event))

    def deliver(self, users: tuple[str, ...], msg_type: int, body: bytes) -> None:
        """An event from the store: to every session attached here of these users."""
        sessions = [s for user in users for s in self.local.get(user, ())]
        if not sessions:
            return
        try:
            event = parse(Message(msg_type, 0, body))
        except (RequestError, ProtocolError) as exc:
            self.log.warn("dropping a malformed event: {err}", err=exc)
            return
        for session in sessions:
            if isinstance(event, TokensEnded):
                _end_if_older(session, event.epoch)
            elif _wants(session.attached, event):
                if session.catching_up is not None and isinstance(event, ChatMessage):
                    session.catching_up.append(event)
                else:
                    self._send(session, event)

    @staticmethod
    def _send(session: AttachedSession, event: Control) -> None:
        """Send an event; a message the session already has (by id) is not sent again."""
        if isinstance(event, ChatMessage) and not sent_once(session, event.message.id):
            return
        session.send(event)

    async def deliver_events(self) -> None:
        """Deliver published events for the master's life, subscribing again whenever the
        store comes back (and then letting every session catch up on messages)."""
        lost = False
        while True:
            try:
                feed = self.master.store.event_feed()
                if lost:
                    ensureDeferred(self.catch_up_everyone()).addErrback(
                        lambda f: self.log.warn("catching up after the outage failed: {err}", err=f.getErrorMessage())
                    )
                async for users, msg_type, body in feed:
                    lost = False
                    self.deliver(users, msg_type, body)
            except StoreUnavailable as exc:
                self.log.warn("event feed lost the store ({err}); subscribing again", err=exc)
                lost = True
            await asyncio.sleep(0.5)


def sent_once(session: AttachedSession, message_id: int) -> bool:
    """Record that a message goes to a session; False if it went already. Messages may be
    numbered out of the order they are published (two senders' transactions), so the
    session remembers recent ids, not only the newest."""
    if message_id in session.sent_messages:
        return False
    session.sent_messages.add(message_id)
    session.last_message = max(session.last_message, message_id)
    if len(session.sent_messages) > 2048:
        session.sent_messages = {i for i in session.sent_messages if i > session.last_message - 1024}
    return True


def _end_if_older(session: AttachedSession, epoch: int) -> None:
    """``logout --everywhere`` ended the token this session attached with: end it too."""
    if session.token_epoch < epoch:
        session.reject(ErrorCode.BAD_TOKEN, "this session was ended by logout --everywhere; log in again")


def _wants(attached: Attach | None, event: Control) -> bool:
    if attached is None:
        return False
    if isinstance(event, Presence):
        return attached.presence
    if isinstance(event, ChatMessage):
        return attached.messages
    return True
