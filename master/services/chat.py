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

from typing import TYPE_CHECKING

from twisted.logger import Logger

from common.errors import ErrorCode, RequestError
from common.messages.chat import ROOM_PAGE, ChatMessage, MessageList, MsgAccepted, MsgSend, RoomAsk, RoomList
from common.messages.chat import MemberAction, RoomMember
from master.services.floods import Flood
from master.services.events import sent_once
from master.storage.db.rooms import Joined
from master.storage.store import stored

if TYPE_CHECKING:
    from master.node import Master
    from master.services.events import AttachedSession


class Chat:
    log = Logger()

    def __init__(self, master: "Master"):
        self.master = master

    async def send(self, sender: str, request: MsgSend) -> MsgAccepted:
        master, config = self.master, self.master.config
        now = master.clock()
        wait = await stored(master.store.limit(f"msg:{sender}", now, config.message_rate, config.message_burst))
        if wait > 0:
            raise RequestError(ErrorCode.RATE_LIMITED, f"too many messages; wait {wait:.1f} s")
        line, recipients = await master.messages.store(sender, request.to, request.text, request.client_id, now)
        try:
            await master.events.push(recipients, ChatMessage(line))
        except RequestError as exc:  # stored: the recipients' sessions catch up when the event feed returns
            self.log.warn("message {id} stored but not pushed: {err}", id=line.id, err=exc.message)
        return MsgAccepted(line.id, line.sent_at)

    async def seen(self, user: str, up_to: int) -> None:
        await self.master.messages.seen(user, up_to)

    async def history(self, user: str, peer: str | None, limit: int) -> MessageList:
        return MessageList(tuple(await self.master.messages.history(user, peer, min(limit, 1000))))

    async def rooms(self, user: str, after: str | None, limit: int) -> RoomList:
        """One page of the rooms; ``next`` is where the next one starts."""
        limit = max(1, min(limit, ROOM_PAGE))
        rows = await self.master.rooms.page(user, after, limit + 1)
        return RoomList(tuple(rows[:limit]), rows[limit - 1].name if len(rows) > limit else None)

    async def change_room(self, user: str, room: str, join: bool) -> str:
        master = self.master
        if not join:
            await master.rooms.leave(user, room)
            return f"you left {room}"
        # Counted before the room is looked at: a flood of new names and one of requests
        # to join are each refused at their own limit.
        exists = await master.rooms.exists(room)
        await master.floods.check(Flood.ROOM_ASK if exists else Flood.ROOM_CREATE, user)
        joined, owner = await master.rooms.join(user, room, master.clock())
        if joined == Joined.CREATED:
            return f"you are in {room}, which you made and own: framecast room-invite USER {room} lets others in"
        if joined == Joined.ASKED:
            await master.events.push([owner], RoomAsk(user, room))
            return f"asked {owner}, the owner of {room}, to let you in: you are in once they accept"
        return f"you are in {room}" + ("" if joined == Joined.JOINED else " already")

    async def decide_member(self, owner: str, request: RoomMember) -> str:
        master = self.master
        removal = request.action == MemberAction.REMOVE
        await master.floods.check(Flood.THROW_USER if removal else Flood.INVITE_USER, owner)
        return await master.rooms.decide(owner, request.user, request.room, request.action, master.clock())

    async def catch_up(self, session: "AttachedSession", user: str, since: int | None) -> None:
        """Send a session the messages after ``since`` it does not have, in order (``since``
        None: a session starting afresh gets what the user has not seen)."""
        if session.attached is None or not session.attached.messages:
            return
        for line in await self.master.messages.after(user, since):
            if sent_once(session, line.id):
                session.send(ChatMessage(line))
                await session.drained()  # up to 1,000 messages: as fast as the session reads them
