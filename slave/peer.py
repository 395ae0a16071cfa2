"""What the slave needs of a client connection, whatever carries it (TCP, TLS, WebSocket,
an MJPEG request)."""

from __future__ import annotations

from typing import Protocol

from common.errors import ErrorCode
from common.messages.schema import Control


class Peer(Protocol):
    def send(self, message: Control) -> None: ...

    def drop(self, message: Control) -> None:
        """Tell the peer why, then close."""

    def reject(self, code: ErrorCode, message: str) -> None: ...
