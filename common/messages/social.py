"""Client <-> master messages about a user's sessions, friends and settings (U1, U8, U10).

A client session that wants to be told things (a broadcast, a view, a chat) sends ATTACH
on its master connection; from then on the master pushes events for that user to it.
One-shot commands send requests with the login token and are never attached.
"""

from __future__ import annotations

import enum
from typing import Annotated

from common.messages.fields import Count, Flag, Name, Text, Token, UserName, nested, one_of, records, text
from common.messages.schema import Check, Control, Record, control, record
from common.prefs import ROOM_NAME
from common.protocol import MessageType as T

RoomName = Annotated[str, Check(text(33, ROOM_NAME, "room names are # and 1-32 letters, digits, '_', '.' or '-'"))]


class PresenceState(enum.StrEnum):
    OFFLINE = "offline"
    ONLINE = "online"
    BROADCASTING = "broadcasting"
    PENDING = "pending"  # in a friend list only: they have not added you back, so no presence


@control(T.ATTACH)
class Attach(Control):
    """Push this user's events to this connection. ``since``: the last message id this
    session has (None: deliver what is unread); ``messages`` and ``presence``: which
    events the session shows."""

    token: Token
    since: Count | None = None
    messages: Flag = True
    presence: Flag = False


@control(T.ATTACHED)
class Attached(Control):
    user: UserName


@control(T.FRIENDS_REQUEST)
class FriendsRequest(Control):
    token: Token


@record
class FriendRow(Record):
    user: UserName
    presence: Annotated[PresenceState, Check(one_of(PresenceState))]


@control(T.FRIEND_LIST)
class FriendList(Control):
    friends: Annotated[tuple[FriendRow, ...], records(FriendRow)] = ()


@control(T.FRIEND_CHANGE)
class FriendChange(Control):
    token: Token
    user: UserName
    add: Flag


@control(T.PRESENCE)
class Presence(Control):
    """Pushed to those who have ``user`` as a friend when its presence changes."""

    user: UserName
    state: Annotated[PresenceState, Check(one_of(PresenceState))]


@control(T.LIVE_REQUEST)
class LiveRequest(Control):
    token: Token
    room: RoomName | None = None


@record
class LiveRow(Record):
    """A broadcast the user may watch: ``ask`` if watching needs the broadcaster's yes."""

    user: UserName
    viewers: Count
    friend: Flag
    access: Name


@control(T.LIVE_LIST)
class LiveList(Control):
    broadcasts: Annotated[tuple[LiveRow, ...], records(LiveRow)] = ()


@record
class Settings(Record):
    quality: Count
    size: Name
    rate: Name
    access: Name
    turbo: Name


@control(T.PREFS_REQUEST)
class PrefsRequest(Control):
    token: Token


@control(T.SET_PREF)
class SetPref(Control):
    token: Token
    key: Name
    value: Text


@control(T.PREFS)
class Prefs(Control):
    """A user's settings (the answer to PREFS_REQUEST and SET_PREF)."""

    settings: Annotated[Settings, Check(nested(Settings))]


@control(T.PREFS_CHANGED)
class PrefsChanged(Control):
    """Pushed to the user's own sessions: a setting changed (a broadcast applies it)."""

    settings: Annotated[Settings, Check(nested(Settings))]


class AccessList(enum.StrEnum):
    ALLOW = "allow"
    IGNORE = "ignore"


@control(T.LIST_CHANGE)
class ListChange(Control):
    token: Token
    list: Annotated[AccessList, Check(one_of(AccessList))]
    user: UserName
    add: Flag
