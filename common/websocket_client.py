"""WebSocket frames (RFC 6455) from a client's side: the masked frames a client must send,
and a server's unmasked frames read back. For the tools that stand in for a browser
(``bench/`` and the chaos run's viewers); the servers' side is ``common/websocket.py``."""

from __future__ import annotations

import os

BINARY = 0x2
PONG = 0xA


def client_frame(data: bytes, opcode: int = BINARY) -> bytes:
    """One masked frame carrying ``data``."""
    mask = os.urandom(4)
    size = len(data)
    if size < 126:
        length = bytes([0x80 | size])
    elif size < 65536:
        length = bytes([0x80 | 126]) + size.to_bytes(2, "big")
    else:
        length = bytes([0x80 | 127]) + size.to_bytes(8, "big")
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
    return bytes([0x80 | opcode]) + length + mask + masked


def server_frame(buffer: bytes) -> tuple[int, bytes, int] | None:
    """The first whole (unmasked) frame in ``buffer``: opcode, payload, bytes used; None
    until it has all arrived."""
    if len(buffer) < 2:
        return None
    size, at = buffer[1] & 0x7F, 2
    if size == 126:
        size, at = int.from_bytes(buffer[2:4], "big"), 4
    elif size == 127:
        size, at = int.from_bytes(buffer[2:10], "big"), 10
    if len(buffer) < at + size:
        return None
    return buffer[0] & 0x0F, buffer[at : at + size], at + size
