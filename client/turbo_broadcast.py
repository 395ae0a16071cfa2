"""Turbo mode for a broadcast (P1-P3): what the broadcaster tells the servers, and what it
does when its slave says a lone viewer gets images peer to peer (stop uploading) or that
a second viewer came (upload again). The peer links themselves are ``PeerServer``'s.

``always`` allows turbo from the start; ``ask`` puts the question once, when the broadcast
first has a lone viewer, and allows it once the user says yes (``y``, or ``turbo on`` at any
time); ``never`` does not even listen. The peer port accepts connections only while turbo
mode is allowed and the slave has given this broadcast a key.
"""

from __future__ import annotations

import time
from typing import Callable

from client.connection import Connection
from client.errors import ConnectionLost
from client.peer_server import PeerServer
from common.messages.turbo import PeerAllow, PeerDrop, TurboAllow, TurboBytes, TurboUpload
from common.prefs import Turbo

REPORT_EVERY = 1.0
QUESTION = "turbo mode: send images straight to {viewer}, saving the servers' bandwidth? [y/N]"


class BroadcastTurbo:
    def __init__(
        self,
        user: str,
        mode: Turbo,
        on_event: Callable[[str], None],
        port: int = 0,
        hosts: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        host: str = "0.0.0.0",
    ):
        """``host``: the address the peer port binds to (every interface: viewers come from
        wherever they are)."""
        self.mode = mode
        self.allowed = mode == Turbo.ALWAYS
        self.asking = False  # the question is out, unanswered
        self._asked = False
        self.on_event = on_event
        self.clock = clock
        self.server = PeerServer(user, port, host, clock)
        self.hosts = hosts
        self.uploading = True
        self.conn: Connection | None = None
        self._report_at = clock() + REPORT_EVERY

    def request(self, local_host: str | None) -> tuple[int, tuple[str, ...], str]:
        """The port and host candidates to report (the address this machine reaches the
        servers from, loopback, and any the user named), and the peer link's fingerprint."""
        hosts = tuple(h for h in (local_host, "127.0.0.1", *self.hosts) if h)
        return self.server.port, hosts, self.server.identity.fingerprint

    def joined(self, conn: Connection, key: str | None) -> None:
        """The slave accepted the broadcast: images go there until it says otherwise."""
        self.conn, self.uploading = conn, True
        self.server.use_key(key)
        self.server.listen(self.allowed and key is not None)
        if key is not None and self.allowed:
            self._tell_slave(TurboAllow(True))

    def viewers(self, viewer: str, count: int) -> None:
        """The viewer count changed: with ``ask``, the first lone viewer brings the question."""
        if self.mode == Turbo.ASK and count == 1 and not self._asked and self.server.signer is not None:
            self._asked = self.asking = True
            self.on_event(QUESTION.format(viewer=viewer))

    def set_allowed(self, allowed: bool) -> None:
        self.asking = False
        self.allowed = allowed
        self.on_event(f"turbo mode {'on' if allowed else 'off'}")
        self.server.listen(allowed and self.server.signer is not None)
        self._tell_slave(TurboAllow(allowed))

    def handle(self, message) -> bool:
        """A turbo message from the slave; False if it is none."""
        if isinstance(message, TurboUpload):
            self.uploading = message.upload
            if message.upload:
                self.on_event("images go through the slave again")
            else:
                self.on_event(f"{message.viewer} gets images peer to peer (turbo)")
            return True
        if isinstance(message, PeerAllow):
            for line in self.server.allow(message.viewer, message.peer):
                self.on_event(line)
            return True
        if isinstance(message, PeerDrop):
            if self.server.drop(message.viewer, message.peer):
                self.on_event(f"{message.viewer}'s peer link closed: their session on the slave ended")
            return True
        return False

    def tick(self) -> None:
        """Once a frame: keepalives on quiet peer links, and the bytes saved, once a second."""
        self.server.keep_alive()
        if self.clock() >= self._report_at:
            self._report_at = self.clock() + REPORT_EVERY
            if self.server.unreported_bytes:
                self._tell_slave(TurboBytes(self.server.unreported_bytes))
                self.server.unreported_bytes = 0

    def serve(self, readable: list) -> None:
        for line in self.server.serve(readable):
            self.on_event(line)

    def send_frame(self, seq: int, wire: bytes) -> None:
        for line in self.server.send_frame(seq, wire):
            self.on_event(line)

    def close(self) -> None:
        self.server.close()

    def _tell_slave(self, message) -> None:
        if self.conn is not None:
            try:
                self.conn.send(message)
            except ConnectionLost:
                pass  # the broadcaster notices the lost slave on its own
