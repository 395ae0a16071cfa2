"""Turbo mode for a viewer (P1-P3): when its slave offers, reach the broadcaster directly
and take images from it; go back to the slave's images when told (a second viewer) or when
the peer link fails, and tell the slave either way.

Reaching the broadcaster runs on a thread (trying each candidate in the order the servers
gave, a second each), so the images from the slave never wait for it. A peer link that is
no longer used is paused, not closed, so going back to it is instant.
"""

from __future__ import annotations

import threading
from typing import Callable

from client.connection import Connection
from client.errors import ConnectionLost, FramecastError
from client.peer_tls import pinned_context
from common.addresses import parse_hostport
from common.messages.admission import Path
from common.messages.streaming import ViewerCap, ViewerPause, ViewerResume
from common.messages.turbo import PeerHello, PeerWelcome, TurboEnd, TurboOffer, TurboPath

CONNECT_TIMEOUT = 1.0
PEER_TLS = pinned_context()
SILENCE_LIMIT = 3.0  # the broadcaster sends keepalives on a quiet peer link every second

SERVER, P2P = Path.SERVER, Path.P2P


class ViewerTurbo:
    def __init__(self, target: str, tell_slave: Callable[[object], None], on_event: Callable[[str], None]):
        self.target = target
        self.tell_slave = tell_slave
        self.on_event = on_event
        self.path = SERVER
        self.link: Connection | None = None
        self.wanted = False  # the slave offered: images should come over the link
        self.user_paused = False
        self.cap_kbps: float | None = None
        self._link_paused = False
        self._reaching: threading.Thread | None = None
        self._reached: Connection | FramecastError | None = None
        self._told_unreachable = False

    def handle(self, message) -> bool:
        """A turbo message from the slave; False if it is none."""
        if isinstance(message, TurboOffer):
            self.wanted = True
            if self.link is not None:
                self._sync_pause()
            elif self._reaching is None:
                self._reaching = threading.Thread(target=self._reach, args=(message,), daemon=True)
                self._reaching.start()
            return True
        if isinstance(message, TurboEnd):
            self.through_the_slave()
            return True
        return False

    def through_the_slave(self) -> None:
        """Take the slave's images (a second viewer came, or a new slave offers afresh);
        the peer link, if any, is paused."""
        self.wanted = False
        if self.path == P2P:
            self.path = SERVER
            self.on_event(f"images from {self.target} through the slave again")
        self._sync_pause()

    def new_slave(self) -> None:
        """The viewer joined a slave (first, or after its slave went away): a peer link made
        for its session on the last one serves that session no more, so it is closed, and
        the new slave's offer is taken afresh."""
        self.close()
        self.through_the_slave()

    def step(self) -> None:
        """Once a loop: take the result of reaching the broadcaster; notice a silent link."""
        reached, self._reached = self._reached, None
        if isinstance(reached, Connection):
            self._reaching, self.link, self._link_paused = None, reached, False
            self._sync_pause()
        elif isinstance(reached, FramecastError):
            self._reaching = None
            self._fell_back(str(reached))
        elif self.link is not None and self.link.silent_for() > SILENCE_LIMIT:
            self._lost(f"nothing from {self.target} for {SILENCE_LIMIT:g} s")

    def sockets(self) -> list:
        return [self.link.sock] if self.link is not None else []

    def receive(self) -> object | None:
        """The next message on the peer link, if one is ready (None: none, or link lost)."""
        if self.link is None:
            return None
        try:
            return self.link.recv(0)
        except ConnectionLost as exc:
            self._lost(str(exc))
            return None

    def peer_frame(self) -> None:
        """A frame arrived over the link: once wanted, the slave hears we are on it."""
        if self.wanted and self.path == SERVER:
            self.path = P2P
            self.tell_slave(TurboPath(True))
            self.on_event(f"images from {self.target} peer to peer (turbo)")

    def send(self, message) -> None:
        self.ack(message.encode())

    def ack(self, data: bytes) -> None:
        """Send on the link (an ACK, or control); a lost link falls back to the slave."""
        if self.link is not None:
            try:
                self.link.send_bytes(data)
            except ConnectionLost as exc:
                self._lost(str(exc))

    def set_paused(self, paused: bool) -> None:
        self.user_paused = paused
        self._sync_pause()

    def set_cap(self, cap_kbps: float | None) -> None:
        self.cap_kbps = cap_kbps
        self.send(ViewerCap(cap_kbps))

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None

    def _sync_pause(self) -> None:
        pause = self.user_paused or not self.wanted
        if self.link is not None and pause != self._link_paused:
            self._link_paused = pause
            self.send(ViewerPause() if pause else ViewerResume())

    def _reach(self, offer: TurboOffer) -> None:
        """On the reaching thread: the first candidate that takes our ticket."""
        failures = []
        for candidate in offer.candidates:
            try:
                conn = Connection(
                    *parse_hostport(candidate), timeout=CONNECT_TIMEOUT, tls=PEER_TLS, pin=offer.fingerprint
                )
            except ConnectionLost as exc:
                failures.append(str(exc))
                continue
            try:
                welcome = conn.request(PeerHello(offer.ticket), PeerWelcome, timeout=CONNECT_TIMEOUT)
            except FramecastError as exc:
                conn.close()
                failures.append(f"{candidate}: {exc}")
                continue
            if welcome.user == self.target:
                self._reached = conn
                return
            conn.close()
        self._reached = FramecastError("; ".join(failures) or "no address to try")

    def _lost(self, why: str) -> None:
        self.close()
        self._fell_back(f"peer link lost ({why})")

    def _fell_back(self, why: str) -> None:
        """Back to the slave's images; failing to reach the broadcaster is told once, not at
        every retry."""
        was_p2p, self.path, self.wanted = self.path == P2P, SERVER, False
        self.tell_slave(TurboPath(False, why[:128]))
        if was_p2p or not self._told_unreachable:
            self._told_unreachable = not was_p2p
            retry = "" if was_p2p else " (turbo is tried again later)"
            self.on_event(f"turbo: {why}; images through the slave{retry}")
