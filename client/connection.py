"""A blocking framecast connection for clients: send typed messages, receive them with
timeouts."""

from __future__ import annotations

import collections
import select
import socket
import ssl
import time
from typing import Callable, TypeVar

from client.errors import ConnectionLost, ServerError
from client.peer_tls import fingerprint
from common.addresses import format_hostport
from common.errors import ProtocolError, RequestError
from common.messages import Control, parse
from common.messages.basic import Error
from common.protocol import Decoder

IO_TIMEOUT = 10.0
SYSTEM_ROOTS = "the system's roots"  # what clients verify servers with until ``use_tls``
_tls: ssl.SSLContext | None | str = SYSTEM_ROOTS


def use_tls(context: ssl.SSLContext | None) -> None:
    """Connect to the servers with TLS, verifying them with ``context`` (None: plain TCP,
    ``--insecure``). Until this is called, servers are verified against the system's roots."""
    global _tls
    _tls = context


def _default_tls() -> ssl.SSLContext | None:
    if _tls is SYSTEM_ROOTS:
        use_tls(ssl.create_default_context())
    return _tls


M = TypeVar("M")


class Connection:
    def __init__(
        self, host: str, port: int, timeout: float = 5.0, tls: bool | ssl.SSLContext = True, pin: str | None = None
    ):
        """``tls``: True to do as ``use_tls`` said, False for plain TCP, or the TLS context to
        verify this server with; ``pin``: the fingerprint its certificate must have (turbo
        mode's peer link, ``client/peer_tls.py``)."""
        address = format_hostport(host, port)
        context = _default_tls() if tls is True else tls or None
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=host)
                if pin is not None and fingerprint(sock.getpeercert(binary_form=True)) != pin:
                    sock.close()
                    raise ConnectionLost(f"{address} showed a certificate other than the one announced")
        except ssl.SSLCertVerificationError as exc:
            raise ConnectionLost(
                f"cannot connect to {address} with TLS: certificate not trusted ({exc.verify_message});"
                " --ca names the CA that signed it"
            ) from None
        except ssl.SSLError as exc:  # no TLS there (a cluster run --insecure), say
            raise ConnectionLost(f"cannot connect to {address} with TLS: {exc.reason or exc}") from None
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {address}: {exc.strerror or exc}") from None
        self._use(sock, address, heard=context is not None)

    @classmethod
    def accepted(cls, sock: socket.socket, address: str) -> "Connection":
        """A connection someone made to us (a viewer reaching a broadcaster in turbo mode)."""
        conn = cls.__new__(cls)
        conn._use(sock, address)
        return conn

    def _use(self, sock: socket.socket, address: str, heard: bool = True) -> None:
        """``heard``: False over plain TCP until the server says something (see ``_read``)."""
        self.address = address
        self.heard = heard
        self.sock = sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(IO_TIMEOUT)  # a send into a vanished peer fails instead of hanging
        self.decoder = Decoder()
        self.last_data = time.monotonic()
        self._ready: collections.deque = collections.deque()

    @property
    def secure(self) -> bool:
        """True over TLS."""
        return isinstance(self.sock, ssl.SSLSocket)

    def send(self, message: Control) -> None:
        self.send_bytes(message.encode())

    def send_bytes(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ConnectionLost(f"connection to {self.address} lost: {exc.strerror or exc}") from None

    def silent_for(self) -> float:
        """Seconds since the peer last sent anything."""
        return time.monotonic() - self.last_data

    def pending(self) -> bool:
        """True if a message is already buffered (so recv(0) would return one)."""
        return bool(self._ready)

    def recv(self, timeout: float | None):
        """The next message of a known type, parsed, or None if none arrives within ``timeout``."""
        while not self._ready:
            if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
                return None
            self._read()
        return self._ready.popleft()

    def _read(self) -> None:
        try:
            data = self.sock.recv(1 << 18)
            while isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():  # so select() sees all
                data += self.sock.recv(self.sock.pending())
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return  # a non-blocking TLS socket (the peer link) has only part of a record yet
        except OSError as exc:
            raise ConnectionLost(f"connection to {self.address} lost: {exc.strerror or exc}") from None
        if not data:
            # A TLS server hangs up on a client that starts in plain text.
            hint = "" if self.heard else " (it may want TLS: leave out --insecure)"
            raise ConnectionLost(f"{self.address} closed the connection{hint}")
        self.heard = True
        self.last_data = time.monotonic()
        try:
            for raw in self.decoder.feed(data):
                message = parse(raw)
                if message is not None:
                    self._ready.append(message)
        except (ProtocolError, RequestError) as exc:
            raise ConnectionLost(f"{self.address} sent a malformed message: {exc.message}") from None

    def request(
        self,
        message: Control,
        expect: type[M] | tuple[type, ...],
        timeout: float = 10.0,
        other: Callable[[object], None] = lambda message: None,
    ) -> M:
        """Send one request and return the answer of type ``expect``; an ERROR is raised.
        Anything else that arrives meanwhile (events pushed to the session) goes to ``other``."""
        self.send(message)
        while True:
            answer = self.recv(timeout)
            if answer is None:
                raise ConnectionLost(f"{self.address} did not answer within {timeout:g} s")
            raise_if_error(answer)
            if isinstance(answer, expect):
                return answer
            other(answer)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def raise_if_error(message: object) -> None:
    if isinstance(message, Error):
        raise ServerError(message.code, message.message)
