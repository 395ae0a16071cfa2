"""Events pushed to users' attached sessions: a view request, an answer, an invitation, a
message, a friend's presence, the end of their tokens.

Events are published through the store and every master delivers them to the sessions
attached to it, so they reach a user whichever master each side is on. A message reaches
a session once (by id), and in order: while a session catches up from the store (after it
attached, or after the event feed was lost) the messages pushed meanwhile wait behind.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Protocol

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from common.errors import ErrorCode, ProtocolError, RequestError
from common.messages import parse
from common.messages.accounts import TokensEnded
from common.messages.chat import ChatMessage
from common.messages.schema import Control
from common.messages.social import Attach, Presence
from common.protocol import Message
from common.reactor import later
from master.storage.store import Store, StoreUnavailable, stored

REORDER_WINDOW = 1000  # message ids a catch-up after an outage looks back, for late commits
SUBSCRIBE_AGAIN = 0.5  # seconds between attempts to subscribe to a lost event feed


class AttachedSession(Protocol):
    attached: Attach | None
    last_message: int  # the newest message sent to this session
    sent_messages: set[int]  # the ids of the messages sent lately (a message is sent once)
    catching_up: list | None  # messages held back while the session catches up, in order
    token_epoch: int  # of the token it attached with

    def send(self, message: Control) -> None: ...

    def drained(self) -> Deferred: ...
    def reject(self, code: ErrorCode, message: str) -> None: ...


# Sends a session what it missed since a message id (None: what its user has not seen).
CatchUp = Callable[[AttachedSession, str, "int | None"], Awaitable[None]]


class Events:
    """``local``: the sessions attached to this master, by user. ``catch_ups``: what a
    session catching up is sent (the node registers the chat's messages)."""

    log = Logger()

    def __init__(self, store: Store, reactor: IReactorTime):
        self.store = store
        self.reactor = reactor
        self.local: dict[str, set[AttachedSession]] = {}
        self.catch_ups: list[CatchUp] = []

    # --- the sessions attached here -----------------------------------------------------
    def add(self, user: str, session: AttachedSession) -> None:
        """From now on events reach ``session``; messages wait for its catch-up."""
        session.catching_up = []
        self.local.setdefault(user, set()).add(session)

    def remove(self, user: str, session: AttachedSession) -> None:
        sessions = self.local.get(user, set())
        sessions.discard(session)
        if not sessions:
            self.local.pop(user, None)

    def count(self, user: str) -> int:
        return len(self.local.get(user, ()))

    # --- pushing and delivering ---------------------------------------------------------
    async def push(self, users: list[str], event: Control) -> None:
        await stored(self.store.publish_event(users, event))

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
                    send_once(session, event)

    async def catch_up(self, session: AttachedSession, user: str, since: int | None) -> None:
        """Send the session what it missed after ``since`` (None: what the user has not
        seen) from the store; messages pushed meanwhile are held back and follow, so the
        session sees them in order."""
        if session.catching_up is None:
            session.catching_up = []
        try:
            for catch_up in self.catch_ups:
                await catch_up(session, user, since)
        finally:
            held, session.catching_up = session.catching_up, None
            for event in held:
                send_once(session, event)

    async def catch_up_everyone(self) -> None:
        """After the event feed was lost: every session here catches up from the store
        (from a little before its newest message: ids are not always published in order)."""
        for user, sessions in list(self.local.items()):
            for session in list(sessions):
                since = max(0, session.last_message - REORDER_WINDOW) if session.last_message else None
                await self.catch_up(session, user, since)

    async def deliver_events(self) -> None:
        """Deliver published events for the master's life, subscribing again whenever the
        store comes back (and then letting every session catch up on messages)."""
        lost = False
        while True:
            try:
                feed = self.store.event_feed()
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
            await later(self.reactor, SUBSCRIBE_AGAIN)


def send_once(session: AttachedSession, event: Control) -> None:
    """Send an event; a message the session already has (by id) is not sent again."""
    if isinstance(event, ChatMessage) and not sent_once(session, event.message.id):
        return
    session.send(event)


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
