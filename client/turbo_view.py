"""Turbo mode for a viewer (P1-P3): when its slave offers, reach the broadcaster directly
and take images from it; go back to the slave's images when told (a second viewer) or when
the peer link fails, and tell the slave either way.

Reaching the broadcaster runs on a thread (trying each candidate in the order the servers
gave, a second each), so the images from the slave never wait for it. Which way the images
come is ``client.turbo_switch``'s to decide; this part holds the link and the thread.
"""

from __future__ import annotations

import threading
from typing import Callable

from client.actions import Say, Send
from client.connection import Connection
from client.errors import ConnectionLost, FramecastError
from client.peer_tls import pinned_context
from client.turbo_switch import TO_SLAVE, Reach, TurboSwitch
from common.addresses import parse_hostport
from common.messages.streaming import ViewerCap
from common.messages.turbo import PeerHello, PeerWelcome, TurboEnd, TurboOffer

CONNECT_TIMEOUT = 1.0
PEER_TLS = pinned_context()
SILENCE_LIMIT = 3.0  # the broadcaster sends keepalives on a quiet peer link every second


class ViewerTurbo:
    def __init__(self, target: str, tell_slave: Callable[[object], None], on_event: Callable[[str], None]):
        self.target = target
        self.tell_slave = tell_slave
        self.on_event = on_event
        self.switch = TurboSwitch(target)
        self.link: Connection | None = None
        self.cap_kbps: float | None = None
        self._reaching: threading.Thread | None = None
        self._reached: Connection | FramecastError | None = None

    @property
    def path(self):
        """Where the images come from now: the slave, or the broadcaster (``Path``)."""
        return self.switch.path

    def handle(self, message) -> bool:
        """A turbo message from the slave; False if it is none."""
        if isinstance(message, TurboOffer):
            for action in self.switch.offered(self.link is not None, self._reaching is not None):
                if isinstance(action, Reach):
                    self._reaching = threading.Thread(target=self._reach, args=(message,), daemon=True)
                    self._reaching.start()
                else:
                    self._do([action])
            return True
        if isinstance(message, TurboEnd):
            self.through_the_slave()
            return True
        return False

    def through_the_slave(self) -> None:
        """Take the slave's images (a second viewer came, or a new slave offers afresh)."""
        self._do(self.switch.through_the_slave(self.link is not None))

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
            self._reaching, self.link = None, reached
            self._do(self.switch.reached())
        elif isinstance(reached, FramecastError):
            self._reaching = None
            self._do(self.switch.fell_back(str(reached)))
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
        self._do(self.switch.peer_frame())

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
        self._do(self.switch.set_paused(paused, self.link is not None))

    def set_cap(self, cap_kbps: float | None) -> None:
        self.cap_kbps = cap_kbps
        self.send(ViewerCap(cap_kbps))

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None

    def _do(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, Say):
                self.on_event(action.line)
            elif isinstance(action, Send) and action.to == TO_SLAVE:
                self.tell_slave(action.message)
            elif isinstance(action, Send):
                self.send(action.message)

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
        self._do(self.switch.fell_back(f"peer link lost ({why})"))
