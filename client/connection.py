"""A blocking framecast connection for clients: send messages, receive them with timeouts."""

from __future__ import annotations

import collections
import select
import socket
import time

from client.errors import ConnectionLost, ServerError
from common.addresses import format_hostport
from common.protocol import Decoder, Message, MessageType, ProtocolError, encode_json, known_type


IO_TIMEOUT = 10.0


class Connection:
    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.address = format_hostport(host, port)
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {self.address}: {exc.strerror or exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(IO_TIMEOUT)  # a send into a vanished peer fails instead of hanging
        self.decoder = Decoder()
        self.last_data = time.monotonic()
        self._ready: collections.deque[Message] = collections.deque()

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ConnectionLost(f"connection to {self.address} lost: {exc.strerror or exc}") from None

    def send_json(self, msg_type: int, **fields: object) -> None:
        self.send(encode_json(msg_type, **fields))

    def silent_for(self) -> float:
        """Seconds since the peer last sent anything."""
        return time.monotonic() - self.last_data

    def pending(self) -> bool:
        """True if a message is already buffered (so recv(0) would return one)."""
        return bool(self._ready)

    def recv(self, timeout: float | None) -> Message | None:
        """The next message of a known type, or None if none arrives within ``timeout``."""
        while not self._ready:
            if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
                return None
            self._read()
        return self._ready.popleft()

    def _read(self) -> None:
        try:
            data = self.sock.recv(1 << 18)
        except OSError as exc:
            raise ConnectionLost(f"connection to {self.address} lost: {exc.strerror or exc}") from None
        if not data:
            raise ConnectionLost(f"{self.address} closed the connection")
        self.last_data = time.monotonic()
        try:
            self._ready.extend(m for m in self.decoder.feed(data) if known_type(m.type))
        except ProtocolError as exc:
            raise ConnectionLost(f"{self.address} sent a malformed message: {exc.message}") from None

    def request(self, msg_type: int, expect: int, timeout: float = 10.0, **fields: object) -> dict:
        """Send one JSON request and return the JSON body of the ``expect`` answer."""
        self.send_json(msg_type, **fields)
        while True:
            message = self.recv(timeout)
            if message is None:
                raise ConnectionLost(f"{self.address} did not answer within {timeout:g} s")
            if message.type == MessageType.ERROR:
                raise_server_error(message)
            if message.type == expect:
                return message.json()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def raise_server_error(message: Message) -> None:
    fields = message.json()
    raise ServerError(str(fields.get("code", "error")), str(fields.get("message", "the server refused the request")))
