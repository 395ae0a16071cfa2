"""The framecast wire protocol (feature S1), in one place.

Every connection — client to master, client to slave, slave to master — carries a stream
of messages. Each message is a fixed 10-byte header followed by a body of exactly
``length`` bytes::

    offset  size  field
    0       2     magic    b"FC"
    2       1     version  PROTOCOL_VERSION (1)
    3       1     type     a MessageType value
    4       2     flags    reserved, 0 (unsigned, network order)
    6       4     length   body length in bytes (unsigned, network order)

Control messages carry a UTF-8 JSON object as their body (``common.messages`` declares, parses
and validates each one). Image messages (FRAME) carry a
21-byte binary frame header (``FRAME_HEADER``: sequence number, capture time in epoch
seconds, width, height, codec) followed by the compressed image. ACK carries the 8-byte
sequence number of the frame it acknowledges.

Rules every peer follows:

* A message whose type the peer does not know is skipped (its body is read and dropped),
  so newer peers can add message types without breaking older ones.
* A bad magic or version, or a body longer than the receiver's limit
  (``DEFAULT_MAX_BODY``, configurable), is a protocol violation: the receiver answers with
  one ERROR message naming the problem and closes the connection.
* ERROR bodies are JSON ``{"code": ..., "message": ...}``; ``message`` is meant for people.

This module is pure: it parses and builds bytes and does no I/O.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Iterator

from common.errors import ErrorCode, ProtocolError

MAGIC = b"FC"
PROTOCOL_VERSION = 1
HEADER = struct.Struct("!2sBBHI")
FRAME_HEADER = struct.Struct("!QdHHB")
ACK_BODY = struct.Struct("!Q")
DEFAULT_MAX_BODY = 8 * 1024 * 1024


class MessageType(enum.IntEnum):
    """Every message type, grouped by connection. The typed messages in ``common.messages``
    say what each body holds (its JSON fields, or the binary layout for FRAME and ACK)."""

    ERROR = 1  # any -> any
    OK = 2  # server -> client: a request was carried out
    # client <-> master
    REGISTER = 10
    LOGIN = 11
    TOKEN = 12
    BROADCAST_REQUEST = 13
    VIEW_REQUEST = 14
    REDIRECT = 15
    STATUS_REQUEST = 16
    STATUS = 17
    OPERATOR_REQUEST = 18
    SLAVE_CHANGED = 19
    REBALANCE_PLAN = 29
    # client <-> slave
    BROADCAST_START = 20
    VIEW_START = 21
    ACCEPTED = 22
    FRAME = 23  # FRAME_HEADER + image bytes
    ACK = 24  # ACK_BODY: the sequence number received
    BROADCAST_STOP = 25
    BROADCAST_ENDED = 26
    RECONNECT = 27
    VIEWER_EVENT = 28
    VIEWER_PAUSE = 40
    VIEWER_RESUME = 41
    BROADCAST_PAUSE = 42
    BROADCAST_RESUME = 43
    BROADCAST_PAUSED = 44
    VIEWER_CAP = 45
    MIGRATE = 46
    BROADCAST_MOVED = 47
    MOVE = 48
    KEEPALIVE = 49
    # slave <-> master
    SLAVE_HELLO = 30
    HEARTBEAT = 31
    HEARTBEAT_ECHO = 51
    SESSION_ADD = 32
    SESSION_REMOVE = 33
    SESSION_TABLE = 34
    TABLE_REQUEST = 35
    SET_CAP = 36
    DRAIN = 37
    UNDRAIN = 38
    MIGRATE_BROADCAST = 39
    BROADCAST_ELSEWHERE = 50
    THROW_VIEWER = 85
    VIEWERS_QUERY = 86
    VIEWERS_REPORT = 87
    # client <-> master: a user's sessions, friends, settings and who may watch whom
    ATTACH = 60
    ATTACHED = 61
    FRIENDS_REQUEST = 62
    FRIEND_LIST = 63
    FRIEND_CHANGE = 64
    LIVE_REQUEST = 65
    LIVE_LIST = 66
    PREFS_REQUEST = 67
    PREFS = 68
    SET_PREF = 69
    LIST_CHANGE = 70
    ACCESS_ANSWER = 71
    INVITE = 72
    DECLINE = 73
    VIEWERS_REQUEST = 74
    VIEWER_LIST = 75
    THROW = 76
    VIEW_PENDING = 77
    VIEW_ASK = 78  # pushed to a broadcaster's sessions
    VIEW_ANSWER = 79  # pushed to a viewer's sessions
    INVITATION = 80  # pushed
    INVITATION_DECLINED = 81  # pushed
    PRESENCE = 82  # pushed
    PREFS_CHANGED = 83  # pushed
    REMOVED = 84  # slave -> viewer: the broadcaster threw this viewer out
    ASK_ANSWERED = 88  # pushed to a broadcaster's sessions
    # client <-> master: instant messages and rooms
    MSG_SEND = 90
    MSG_ACCEPTED = 91
    CHAT_MESSAGE = 92  # pushed
    MSG_SEEN = 93
    MESSAGES_REQUEST = 94
    MESSAGE_LIST = 95
    ROOMS_REQUEST = 96
    ROOM_LIST = 97
    ROOM_CHANGE = 98
    ROOM_MEMBER = 99  # a room's owner invites, accepts or removes a user
    ROOM_ASK = 89  # pushed to a room owner's sessions: a request to join
    # turbo mode: broadcaster/viewer <-> slave, and viewer <-> broadcaster on the peer link
    TURBO_ALLOW = 100  # broadcaster -> slave: a lone viewer may get images peer to peer
    TURBO_OFFER = 101  # slave -> viewer: candidates and a peer ticket
    TURBO_PATH = 102  # viewer -> slave: on the peer link now, or not
    TURBO_END = 103  # slave -> viewer: back through the slave
    TURBO_UPLOAD = 104  # slave -> broadcaster: upload to the slave, or not
    PEER_DROP = 105  # slave -> broadcaster: close a viewer's peer link (its session ended)
    PEER_HELLO = 106  # viewer -> broadcaster
    PEER_WELCOME = 107  # broadcaster -> viewer
    TURBO_BYTES = 108  # broadcaster -> slave: bytes sent peer to peer since the last report
    PEER_ALLOW = 109  # slave -> broadcaster: the one viewer session the peer link may serve now
    # relay chains (C10)
    RELAY_START = 110  # relay slave -> upstream slave: pull a broadcast, as a viewer does
    RELAY_UPSTREAM_REQUEST = 111  # relay slave -> master: where to pull a broadcast from now
    RELAY_UPSTREAM = 112  # master -> relay slave: the answer
    # client <-> master: tokens
    PLAYER_TOKEN_REQUEST = 120  # answered with a TOKEN for players' URLs
    LOGOUT = 121  # end every token of the user (answered OK)
    TOKENS_ENDED = 122  # pushed between masters: end the user's sessions attached with older tokens
    # sealed frames (common.frame_seal): a native viewer of a TLS slave
    SEALED_FRAME = 130  # slave -> viewer, on the data connection: a frame sealed for every viewer
    SEALED_ACK = 131  # viewer -> slave, on the data connection: an ACK with the viewer's MAC
    DATA_ATTACH = 132  # viewer -> slave: this plain connection carries that TLS session's frames
    FRAME_KEY = 133  # slave -> viewer, over TLS: the broadcast's frame key changed


class Codec(enum.IntEnum):
    JPEG = 1
    JPEG2000 = 2


@dataclass(frozen=True, slots=True)
class Message:
    """One message as framed on the wire; ``common.messages`` turns it into a typed object."""

    type: int
    flags: int
    body: bytes


@dataclass(frozen=True, slots=True)
class FrameInfo:
    seq: int
    capture_time: float
    width: int
    height: int
    codec: int


def encode(msg_type: int, body: bytes = b"", flags: int = 0) -> bytes:
    """One message on the wire: header then body."""
    return HEADER.pack(MAGIC, PROTOCOL_VERSION, msg_type, flags, len(body)) + body


def encode_frame(info: FrameInfo, image: bytes) -> bytes:
    header = FRAME_HEADER.pack(info.seq, info.capture_time, info.width, info.height, info.codec)
    return encode(MessageType.FRAME, header + image)


def decode_frame(body: bytes) -> tuple[FrameInfo, memoryview]:
    """Split a FRAME body into its header fields and the image bytes (no copy)."""
    _check_frame(body)
    info = FrameInfo(*FRAME_HEADER.unpack_from(body))
    return info, memoryview(body)[FRAME_HEADER.size :]


def frame_seq_and_time(body: bytes) -> tuple[int, float]:
    """The sequence number and capture time of a FRAME body, without touching the image."""
    _check_frame(body)
    return _SEQ_AND_TIME.unpack_from(body)


def _check_frame(body: bytes) -> None:
    if len(body) < FRAME_HEADER.size:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"frame body of {len(body)} bytes is shorter than its header")


_SEQ_AND_TIME = struct.Struct("!Qd")


def encode_ack(seq: int) -> bytes:
    return ACK_HEADER + ACK_BODY.pack(seq)


ACK_HEADER = HEADER.pack(MAGIC, PROTOCOL_VERSION, MessageType.ACK, 0, ACK_BODY.size)
ACK_SIZE = HEADER.size + ACK_BODY.size


def decode_ack(body: bytes) -> int:
    if len(body) != ACK_BODY.size:
        raise ProtocolError(ErrorCode.BAD_ACK, f"ack body must be {ACK_BODY.size} bytes, got {len(body)}")
    return ACK_BODY.unpack(body)[0]


def lone_ack(data: bytes) -> int | None:
    """The ACK fast path: if ``data`` is exactly one ACK message, its sequence number.

    A viewer sends one ACK per frame, and it usually arrives alone in one read; recognising
    it by its fixed header skips the general framer on the slave's hottest input path.
    """
    if len(data) == ACK_SIZE and data[: HEADER.size] == ACK_HEADER:
        return ACK_BODY.unpack_from(data, HEADER.size)[0]
    return None


class Decoder:
    """Incremental parser: feed it bytes as they arrive, get complete messages back.

    Messages of unknown type are returned too (with their raw type number); skipping them is
    the dispatcher's job, so the framer stays a pure byte parser.
    """

    def __init__(self, max_body: int = DEFAULT_MAX_BODY):
        self.max_body = max_body
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Message]:
        """Yield every complete message now buffered; raise ProtocolError on a violation."""
        buffer = self._buffer
        buffer += data
        offset = 0
        try:
            while len(buffer) - offset >= HEADER.size:
                magic, version, msg_type, flags, length = HEADER.unpack_from(buffer, offset)
                self._check_header(magic, version, length)
                end = offset + HEADER.size + length
                if len(buffer) < end:
                    break
                yield Message(msg_type, flags, bytes(buffer[offset + HEADER.size : end]))
                offset = end
        finally:
            del buffer[:offset]

    def buffered(self) -> int:
        """Bytes of an incomplete message held back for the next feed."""
        return len(self._buffer)

    def _check_header(self, magic: bytes, version: int, length: int) -> None:
        if magic != MAGIC:
            raise ProtocolError(ErrorCode.BAD_MAGIC, "not a framecast stream (bad magic bytes)")
        if version != PROTOCOL_VERSION:
            raise ProtocolError(
                ErrorCode.BAD_VERSION,
                f"protocol version {version} is not supported (this peer speaks {PROTOCOL_VERSION})",
            )
        if length > self.max_body:
            raise ProtocolError(
                ErrorCode.TOO_LARGE, f"message body of {length} bytes exceeds the limit of {self.max_body}"
            )


def known_type(msg_type: int) -> bool:
    return msg_type in MessageType._value2member_map_
