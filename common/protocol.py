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

Control messages carry a UTF-8 JSON object as their body. Image messages (FRAME) carry a
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
import json
import struct
from dataclasses import dataclass
from typing import Any, Iterator

MAGIC = b"FC"
PROTOCOL_VERSION = 1
HEADER = struct.Struct("!2sBBHI")
FRAME_HEADER = struct.Struct("!QdHHB")
ACK_BODY = struct.Struct("!Q")
DEFAULT_MAX_BODY = 8 * 1024 * 1024


class MessageType(enum.IntEnum):
    """Every message type; the comment says who sends it to whom."""

    ERROR = 1  # any -> any: {"code", "message"}
    OK = 2  # server -> client: generic success, JSON details
    # client <-> master
    REGISTER = 10  # {"user", "password"}
    LOGIN = 11  # {"user", "password"}
    TOKEN = 12  # {"user", "token", "expires_at"}
    BROADCAST_REQUEST = 13  # {"token", "session"}
    VIEW_REQUEST = 14  # {"token", "target"}
    REDIRECT = 15  # {"slave": "host:port", "ticket"}
    STATUS_REQUEST = 16  # {}
    STATUS = 17  # cluster status document
    OPERATOR_REQUEST = 18  # {"command": "drain"|"undrain"|"rebalance", "slave"?, "proof", ...}
    # client <-> slave
    BROADCAST_START = 20  # {"ticket"}
    VIEW_START = 21  # {"ticket"}
    ACCEPTED = 22  # {"user", "slave", ...}
    FRAME = 23  # FRAME_HEADER + image bytes
    ACK = 24  # ACK_BODY: the sequence number received
    BROADCAST_STOP = 25  # {} the broadcaster ends its broadcast cleanly
    BROADCAST_ENDED = 26  # {"user"} the broadcast the viewer watches has ended
    RECONNECT = 27  # {"reason"} go back through the masters
    VIEWER_EVENT = 28  # {"event": "join"|"leave", "viewer", "viewers"}
    VIEWER_PAUSE = 40  # viewer -> slave {}: send no images until VIEWER_RESUME
    VIEWER_RESUME = 41  # viewer -> slave {}: resume, newest frame first
    BROADCAST_PAUSE = 42  # broadcaster -> slave {}: paused, the session stays
    BROADCAST_RESUME = 43  # broadcaster -> slave {}
    BROADCAST_PAUSED = 44  # slave -> viewer {"user", "paused": bool}
    VIEWER_CAP = 45  # slave -> viewer {"cap_kbps": number or null}: the stream's current cap
    MIGRATE = 46  # slave -> broadcaster {"reason"}: move to the slave a master chooses, then leave
    BROADCAST_MOVED = 47  # broadcaster -> old slave {}: the new slave has the broadcast now
    MOVE = 48  # slave -> viewer {"reason"}: join the broadcast's new slave, then leave this one
    KEEPALIVE = 49  # slave -> viewer {}: sent when nothing else went out for a while
    # slave <-> master
    SLAVE_HELLO = 30  # {"id", "addr", "metrics", "proof", "container"}
    HEARTBEAT = 31  # {"load", "broadcasts", "viewers", "state"}
    SESSION_ADD = 32  # {"kind", "user", "session"}
    SESSION_REMOVE = 33  # {"kind", "user", "session"}
    SESSION_TABLE = 34  # {"broadcasts": [{"user", "session"}, ...]}
    TABLE_REQUEST = 35  # master asks for a complete SESSION_TABLE now
    SET_CAP = 36  # master -> slave {"session", "cap_kbps"}: a viewer session's new cap
    DRAIN = 37  # master -> slave {"deadline"}: leave placement, move every session away
    UNDRAIN = 38  # master -> slave {}: back into placement
    MIGRATE_BROADCAST = 39  # master -> slave {"user"}: move this broadcast (rebalance)
    BROADCAST_ELSEWHERE = 50  # master -> slave {"user", "session"}: its broadcaster came back elsewhere


class Codec(enum.IntEnum):
    JPEG = 1
    JPEG2000 = 2


class ProtocolError(Exception):
    """The peer broke the protocol; the connection must be answered and closed."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Message:
    type: int
    flags: int
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; a malformed body is a ProtocolError."""
        try:
            value = json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError("bad_json", f"message body is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ProtocolError("bad_json", "message body must be a JSON object")
        return value


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


def encode_json(msg_type: int, **fields: Any) -> bytes:
    return encode(msg_type, json.dumps(fields, separators=(",", ":")).encode())


def encode_error(code: str, message: str) -> bytes:
    return encode_json(MessageType.ERROR, code=code, message=message)


def encode_frame(info: FrameInfo, image: bytes) -> bytes:
    header = FRAME_HEADER.pack(info.seq, info.capture_time, info.width, info.height, info.codec)
    return encode(MessageType.FRAME, header + image)


def decode_frame(body: bytes) -> tuple[FrameInfo, memoryview]:
    """Split a FRAME body into its header fields and the image bytes (no copy)."""
    if len(body) < FRAME_HEADER.size:
        raise ProtocolError("bad_frame", f"frame body of {len(body)} bytes is shorter than its header")
    info = FrameInfo(*FRAME_HEADER.unpack_from(body))
    return info, memoryview(body)[FRAME_HEADER.size :]


def encode_ack(seq: int) -> bytes:
    return encode(MessageType.ACK, ACK_BODY.pack(seq))


ACK_HEADER = HEADER.pack(MAGIC, PROTOCOL_VERSION, MessageType.ACK, 0, ACK_BODY.size)
ACK_SIZE = HEADER.size + ACK_BODY.size


def decode_ack(body: bytes) -> int:
    if len(body) != ACK_BODY.size:
        raise ProtocolError("bad_ack", f"ack body must be {ACK_BODY.size} bytes, got {len(body)}")
    return ACK_BODY.unpack(body)[0]


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
            raise ProtocolError("bad_magic", "not a framecast stream (bad magic bytes)")
        if version != PROTOCOL_VERSION:
            raise ProtocolError(
                "bad_version", f"protocol version {version} is not supported (this peer speaks {PROTOCOL_VERSION})"
            )
        if length > self.max_body:
            raise ProtocolError("too_large", f"message body of {length} bytes exceeds the limit of {self.max_body}")


def known_type(msg_type: int) -> bool:
    return msg_type in MessageType._value2member_map_
