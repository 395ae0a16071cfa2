"""Instant messages and chat rooms (U10, U11): client <-> master.

A message goes to a user (``bob``) or a room (``#cams``); it is stored before it is
accepted, gets an id (which orders it) and a server timestamp, and is pushed to every
attached session of its recipients and of its sender. Sessions tell the master the last
id they showed (MSG_SEEN), so what a user missed is shown at their next start.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from common.errors import ErrorCode
from common.messages.fields import (
    USER_NAME,
    USER_NAME_RULE,
    Count,
    Flag,
    Time,
    Token,
    UserName,
    list_of,
    nested,
    one_of,
    records,
    text,
)
from common.messages.schema import Check, Control, Record, control, record
from common.messages.social import RoomName
from common.prefs import ROOM_NAME
from common.protocol import MessageType as T

MAX_MESSAGE_BYTES = 4096


def recipient(value: Any) -> str:
    if isinstance(value, str) and (USER_NAME.fullmatch(value) or ROOM_NAME.fullmatch(value)):
        return value
    raise ValueError(f"a message goes to a user ({USER_NAME_RULE}) or a #room")


def message_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a message needs some text")
    if "\x00" in value:
        raise ValueError("a message cannot contain a NUL character")
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        raise ValueError("a message must be valid Unicode text (no lone surrogate)") from None
    if size > MAX_MESSAGE_BYTES:
        raise ValueError(f"messages are at most {MAX_MESSAGE_BYTES} bytes")
    return value


Recipient = Annotated[str, Check(recipient, ErrorCode.BAD_RECIPIENT)]
MessageText = Annotated[str, Check(message_text, ErrorCode.MESSAGE_TOO_LONG)]
ClientId = Annotated[str, Check(text(64))]
LineText = Annotated[str, Check(text(4 * MAX_MESSAGE_BYTES))]  # stored lines may predate a lower limit


def is_room(name: str) -> bool:
    return name.startswith("#")


@control(T.MSG_SEND)
class MsgSend(Control):
    """Send ``text`` to ``to``. ``client_id`` (unique for the sender) makes a retry of the
    same message after a lost connection harmless."""

    token: Token
    to: Recipient
    text: MessageText
    client_id: ClientId


@control(T.MSG_ACCEPTED)
class MsgAccepted(Control):
    """Stored: it will be delivered, or shown at the recipients' next start."""

    id: Count
    sent_at: Time


@record
class ChatLine(Record):
    id: Count
    sender: UserName
    to: Recipient
    text: LineText
    sent_at: Time


@control(T.CHAT_MESSAGE)
class ChatMessage(Control):
    """Pushed to the sessions of a message's recipients and sender."""

    message: Annotated[ChatLine, Check(nested(ChatLine))]


@control(T.MSG_SEEN)
class MsgSeen(Control):
    """From an attached session: it has shown every message up to ``up_to``."""

    up_to: Count


@control(T.MESSAGES_REQUEST)
class MessagesRequest(Control):
    """A user's message history: with one user or room (``peer``), or all, newest last."""

    token: Token
    peer: Recipient | None = None
    limit: Count = 100


@control(T.MESSAGE_LIST)
class MessageList(Control):
    messages: Annotated[tuple[ChatLine, ...], records(ChatLine)] = ()


ROOM_PAGE = 100  # rooms in one answer to ROOMS_REQUEST, at most
ASKING_SHOWN = 100  # requests to join shown to a room's owner, at most
Asking = Annotated[tuple[str, ...], Check(list_of(text(32, USER_NAME, USER_NAME_RULE), ASKING_SHOWN))]


@control(T.ROOMS_REQUEST)
class RoomsRequest(Control):
    """One page of the rooms, by name: those after ``after`` (None: from the first)."""

    token: Token
    after: RoomName | None = None
    limit: Count = ROOM_PAGE


@record
class RoomRow(Record):
    """A room as one user sees it: ``invited`` by its owner, or ``asked`` to join; its
    owner alone sees who is ``asking``."""

    name: RoomName
    members: Count
    joined: Flag
    owner: UserName
    invited: Flag = False
    asked: Flag = False
    asking: Asking = ()


@control(T.ROOM_LIST)
class RoomList(Control):
    """``next``: the ``after`` of the next page (None: this was the last)."""

    rooms: Annotated[tuple[RoomRow, ...], records(RoomRow, ROOM_PAGE)] = ()
    next: RoomName | None = None


@control(T.ROOM_CHANGE)
class RoomChange(Control):
    """Join or leave a room. Joining a new room makes it, owned by the one who joins; an
    existing one admits its owner and those it invited, and puts anyone else's request
    to the owner."""

    token: Token
    room: RoomName
    join: Flag


class MemberAction(enum.StrEnum):
    INVITE = "invite"  # admits a user who asked, or lets their next join in at once
    ACCEPT = "accept"  # admits a user who asked (an error if they did not)
    REMOVE = "remove"  # a member out, an invitation withdrawn, or a request turned down


@control(T.ROOM_MEMBER)
class RoomMember(Control):
    """From a room's owner: what to do with ``user``'s membership of ``room``."""

    token: Token
    room: RoomName
    user: UserName
    action: Annotated[MemberAction, Check(one_of(MemberAction))]


@control(T.ROOM_ASK)
class RoomAsk(Control):
    """Pushed to a room owner's sessions: ``user`` asks to join ``room``."""

    user: UserName
    room: RoomName
