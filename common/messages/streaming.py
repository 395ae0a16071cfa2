"""Client <-> slave messages: starting a broadcast or a view, images, and stream control.

FRAME and ACK are binary (``common.protocol`` describes their layout); their typed forms
here carry the parsed header and, for a frame, the body to forward unchanged.
"""

from __future__ import annotations

import enum
from typing import Annotated

from common.messages.fields import Address, Count, Flag, Kbps, Name, Text, Ticket, UserName, nested, one_of
from common.messages.sealing import SealKeys
from common.messages.schema import Check, Control, REGISTRY, control
from common.protocol import MessageType as T, decode_ack, encode, encode_ack, frame_seq_and_time


@control(T.BROADCAST_START)
class BroadcastStart(Control):
    ticket: Ticket


@control(T.VIEW_START)
class ViewStart(Control):
    """``sealed``: over TLS, send this viewer sealed frames on a data connection
    (``common.messages.sealing``) rather than each frame encrypted for it alone."""

    ticket: Ticket
    sealed: Flag = False


@control(T.ACCEPTED)
class Accepted(Control):
    """The slave took the session: ``viewers`` for a broadcaster, ``cap_kbps`` and
    ``paused`` (the broadcaster's) for a viewer."""

    user: UserName
    slave: Address
    viewers: Count | None = None
    cap_kbps: Kbps | None = None
    paused: Flag = False
    turbo_key: Name | None = None  # to a broadcaster in turbo mode: checks peer tickets
    seal: Annotated[SealKeys, Check(nested(SealKeys))] | None = None  # to a sealed viewer


class ImageFrame:
    """A FRAME message: the sequence number and capture time, and the whole body (header
    and image) as uploaded, so it can be forwarded unchanged."""

    TYPE = T.FRAME
    __slots__ = ("seq", "capture_time", "body")

    def __init__(self, seq: int, capture_time: float, body: bytes):
        self.seq = seq
        self.capture_time = capture_time
        self.body = body

    @classmethod
    def from_body(cls, body: bytes) -> "ImageFrame":
        return cls(*frame_seq_and_time(body), body)

    def encode(self) -> bytes:
        return encode(T.FRAME, self.body)


class Ack:
    """An ACK message: the frame with this sequence number arrived in full."""

    TYPE = T.ACK
    __slots__ = ("seq",)

    def __init__(self, seq: int):
        self.seq = seq

    @classmethod
    def from_body(cls, body: bytes) -> "Ack":
        return cls(decode_ack(body))

    def encode(self) -> bytes:
        return encode_ack(self.seq)


REGISTRY[T.FRAME] = ImageFrame  # type: ignore[assignment]
REGISTRY[T.ACK] = Ack  # type: ignore[assignment]


@control(T.BROADCAST_STOP)
class BroadcastStop(Control):
    pass


@control(T.BROADCAST_ENDED)
class BroadcastEnded(Control):
    user: UserName


@control(T.RECONNECT)
class Reconnect(Control):
    """Go back through the masters."""

    reason: Text = ""


class ViewerChange(enum.StrEnum):
    JOIN = "join"
    LEAVE = "leave"


@control(T.VIEWER_EVENT)
class ViewerEvent(Control):
    """To a broadcaster: a viewer joined or left; ``viewers`` is the count now."""

    event: Annotated[ViewerChange, Check(one_of(ViewerChange))]
    viewer: UserName
    viewers: Count


@control(T.VIEWER_PAUSE)
class ViewerPause(Control):
    pass


@control(T.VIEWER_RESUME)
class ViewerResume(Control):
    pass


@control(T.BROADCAST_PAUSE)
class BroadcastPause(Control):
    pass


@control(T.BROADCAST_RESUME)
class BroadcastResume(Control):
    pass


@control(T.BROADCAST_PAUSED)
class BroadcastPaused(Control):
    user: UserName
    paused: Flag


@control(T.VIEWER_CAP)
class ViewerCap(Control):
    """The stream's current cap (None: none)."""

    cap_kbps: Kbps | None = None


@control(T.MIGRATE)
class Migrate(Control):
    """To a broadcaster: move to the slave a master chooses, then leave this one."""

    reason: Text = ""


@control(T.BROADCAST_MOVED)
class BroadcastMoved(Control):
    pass


@control(T.MOVE)
class Move(Control):
    """To a viewer: join the broadcast's new slave, then leave this one."""

    reason: Text = ""


@control(T.KEEPALIVE)
class Keepalive(Control):
    pass
