"""Sealed frames (``common.frame_seal``): what a native viewer of a TLS slave is told over
TLS, and the two binary messages of its plain data connection.

1. The viewer sends VIEW_START with ``sealed``; the slave's ACCEPTED carries a ``SealKeys``:
   a one-time data token, the slave's public key and the viewer's acknowledgement key.
2. The viewer opens a plain TCP connection to the same port and sends DATA_ATTACH with the
   token; SEALED_FRAMEs arrive on it, and it answers each with a SEALED_ACK.
3. The frame key changes whenever a viewer joins or leaves (the newcomer gets no key that
   sealed frames sent before it came): FRAME_KEY goes over TLS to every viewer before any
   frame sealed with the new key is sent (it may still arrive after such a frame: the
   connections are two).
"""

from __future__ import annotations

from typing import Annotated

from common.messages.fields import Count, Ticket, text
from common.messages.schema import Check, Control, Record, REGISTRY, control, record
from common.protocol import MessageType as T, encode

Key = Annotated[str, Check(text(64))]  # 32 bytes, base64 (``frame_seal.to_text``)


@record
class SealKeys(Record):
    data_token: Ticket
    public_key: Key  # the slave's Ed25519 key, which signs every sealed frame
    ack_key: Key  # this viewer's: its SEALED_ACKs carry a MAC under it


@control(T.DATA_ATTACH)
class DataAttach(Control):
    token: Ticket


@control(T.FRAME_KEY)
class FrameKey(Control):
    key_id: Count
    key: Key


class _Opaque:
    """A binary message whose body its receiver reads as a whole (``common.frame_seal``)."""

    TYPE: int
    __slots__ = ("body",)

    def __init__(self, body: bytes):
        self.body = body

    @classmethod
    def from_body(cls, body: bytes):
        return cls(body)

    def encode(self) -> bytes:
        return encode(self.TYPE, self.body)


class SealedFrame(_Opaque):
    """A SEALED_FRAME message: the viewer opens its body (``FrameOpener``)."""

    TYPE = T.SEALED_FRAME
    __slots__ = ()


class SealedAck(_Opaque):
    """A SEALED_ACK message, unchecked: only the slave holding the viewer's key checks it."""

    TYPE = T.SEALED_ACK
    __slots__ = ()


REGISTRY[T.SEALED_FRAME] = SealedFrame  # type: ignore[assignment]
REGISTRY[T.SEALED_ACK] = SealedAck  # type: ignore[assignment]
