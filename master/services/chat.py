"""Instant messages and rooms (U10, U11; the seed's claims 1, 8, 11 and 16): messages from
user to user, or to a room, over the same connections as the rest.

A message is stored in PostgreSQL before it is accepted, then pushed to every attached
session of its recipients and its sender, wherever they are. The guarantee is
at-least-once with ids: a message the service accepted is delivered, or stored and shown
at the recipient's next start; sessions drop what they already have by id. A session that
attaches catches up from the last message it has (or, starting afresh, from the last one
any of the user's sessions showed), and every session catches up again after the event
feed was lost.
"""

from __future__ import annotations

from typing import Callable

from twisted.logger import Logger

from common.errors import ErrorCode, RequestError
from common.messages.chat import ROOM_PAGE, ChatMessage, MessageList, MsgAccepted, MsgSend, RoomAsk, RoomList
from common.messages.chat import MemberAction, RoomMember
from master.policy.limits import Flood
from master.services.events import AttachedSession, Events, sent_once
from master.services.floods import Floods
from master.storage.db.messages import Messages
from master.storage.db.rooms import Joined, Rooms
from master.storage.store import Store, stored


class Chat:
    """``message_rate`` and ``message_burst``: each user's limit on messages, a second on
    average and at once (counted in ``store``, so on every master together)."""

    log = Logger()

    def __init__(
        self,
        store: Store,
        messages: Messages,
        rooms: Rooms,
        floods: Floods,
        events: Events,
        clock: Callable[[], float],
        *,
        message_rate: float,
        message_burst: int,
    ):
        self.store = store
        self.messages = messages
        self.room_table = rooms
        self.floods = floods
        self.events = events
        self.clock = clock
        self.message_rate = message_rate
        self.message_burst = message_burst

    async def send(self, sender: str, request: MsgSend) -> MsgAccepted:
        now = self.clock()
        wait = await stored(self.store.limit(f"msg:{sender}", now, self.message_rate, self.message_burst))
        if wait > 0:
            raise RequestError(ErrorCode.RATE_LIMITED, f"too many messages; wait {wait:.1f} s")
        line, recipients = await self.messages.store(sender, request.to, request.text, request.client_id, now)
        try:
            await self.events.push(recipients, ChatMessage(line))
        except RequestError as exc:  # stored: the recipients' sessions catch up when the event feed returns
            self.log.warn("message {id} stored but not pushed: {err}", id=line.id, err=exc.message)
        return MsgAccepted(line.id, line.sent_at)

    async def seen(self, user: str, up_to: int) -> None:
        await self.messages.seen(user, up_to)

    async def history(self, user: str, peer: str | None, limit: int) -> MessageList:
        return MessageList(tuple(await self.messages.history(user, peer, min(limit, 1000))))

    async def rooms(self, user: str, after: str | None, limit: int) -> RoomList:
        """One page of the rooms; ``next`` is where the next one starts."""
        limit = max(1, min(limit, ROOM_PAGE))
        rows = await self.room_table.page(user, after, limit + 1)
        return RoomList(tuple(rows[:limit]), rows[limit - 1].name if len(rows) > limit else None)

    async def change_room(self, user: str, room: str, join: bool) -> str:
        rooms = self.room_table
        if not join:
            await rooms.leave(user, room)
            return f"you left {room}"
        # Counted before the room is looked at: a flood of new names and one of requests
        # to join are each refused at their own limit.
        exists = await rooms.exists(room)
        await self.floods.check(Flood.ROOM_ASK if exists else Flood.ROOM_CREATE, user)
        joined, owner = await rooms.join(user, room, self.clock())
        if joined == Joined.CREATED:
            return f"you are in {room}, which you made and own: framecast room-invite USER {room} lets others in"
        if joined == Joined.ASKED:
            await self.events.push([owner], RoomAsk(user, room))
            return f"asked {owner}, the owner of {room}, to let you in: you are in once they accept"
        return f"you are in {room}" + ("" if joined == Joined.JOINED else " already")

    async def decide_member(self, owner: str, request: RoomMember) -> str:
        removal = request.action == MemberAction.REMOVE
        await self.floods.check(Flood.THROW_USER if removal else Flood.INVITE_USER, owner)
        return await self.room_table.decide(owner, request.user, request.room, request.action, self.clock())

    async def catch_up(self, session: AttachedSession, user: str, since: int | None) -> None:
        """Send a session the messages after ``since`` it does not have, in order (``since``
        None: a session starting afresh gets what the user has not seen)."""
        if session.attached is None or not session.attached.messages:
            return
        for line in await self.messages.after(user, since):
            if sent_once(session, line.id):
                session.send(ChatMessage(line))
                await session.drained()  # up to 1,000 messages: as fast as the session reads them
