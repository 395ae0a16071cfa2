"""The broadcaster's side of turbo mode (P1): it listens for viewers the servers sent to it,
checks each one's peer ticket, and sends it images as the slave would: the newest frame
once the previous one is acknowledged, within the viewer's cap, nothing while it pauses.

The link is TLS with a certificate made for this broadcaster, which viewers pin by its
fingerprint (``client/peer_tls.py``). Every socket is non-blocking, the handshake and each
write included (``client/peer_link.py``, one ``Peer`` per link), so no peer, however slow or
silent, holds up the broadcast: what a peer's socket does not take waits in that peer's own
small outbox, and a peer that takes nothing for ``STALL_LIMIT`` seconds is closed. A
connection that does not show a valid ticket within a few seconds is closed without a
word: a stranger gets nothing. The port listens only while turbo mode may be used.

The slave decides who is served: the one viewer session it names (PEER_ALLOW), never a
session it ended (PEER_DROP), whatever ticket a peer shows. The broadcaster never holds the
cluster secret, only the key its slave drew for this broadcast (``common.turbo``).
"""

from __future__ import annotations

import socket
import time
from typing import Callable

from client.connection import Connection
from client.errors import ConnectionLost, ServerError
from client.peer_link import Peer, Write
from client.peer_tls import make_identity
from common.addresses import format_hostport
from common.messages.streaming import Ack, Keepalive, ViewerCap, ViewerPause, ViewerResume
from common.messages.turbo import PeerHello, PeerWelcome
from common.signing import CredentialError, Signer
from common.tokens import PeerTicket

HELLO_WITHIN = 5.0  # seconds a new connection has to show its ticket and be let in
MAX_WAITING = 16  # connections at once that have not been let in
KEEPALIVE_EVERY = 1.0  # the viewer tells a quiet link from a lost one by these
STALL_LIMIT = 5.0  # seconds a peer may leave written bytes untaken before it is closed


class PeerServer:
    def __init__(
        self, user: str, port: int = 0, host: str = "0.0.0.0", clock: Callable[[], float] = time.monotonic
    ):
        self.user = user
        self.clock = clock
        self.host = host
        self.sock = self._bind(port)
        self.port = self.sock.getsockname()[1]
        self.listening = False
        self.identity = make_identity()  # viewers pin its fingerprint
        self.signer: Signer | None = None
        self.serving: tuple[str, str] | None = None  # (viewer, peer name) the slave lets in now
        self.peers: list[Peer] = []
        self.dropped: set[str] = set()  # peer names of ended viewer sessions: their tickets are void
        self.unreported_bytes = 0

    def _bind(self, port: int) -> socket.socket:
        """The port, held but not listening: a connection to it is refused outright."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        sock.setblocking(False)
        return sock

    def use_key(self, key: str | None) -> None:
        """The turbo key the slave drew for this broadcast (None: turbo is off there)."""
        self.signer = Signer(key) if key else None
        self.serving = None

    def listen(self, on: bool) -> None:
        """Accept viewers only while turbo mode may be used; off closes every peer link."""
        if on and not self.listening:
            self.sock.listen(16)
            self.listening = True
        elif not on and self.listening:
            for peer in list(self.peers):
                self._close(peer)
            self.sock.close()
            self.sock = self._bind(self.port)
            self.listening = False

    def allow(self, viewer: str | None, peer: str) -> list[str]:
        """The slave names the viewer session the link may serve now (none: ``peer`` empty)."""
        self.serving = (viewer, peer) if viewer and peer else None
        events: list[str] = []
        for waiting in list(self.peers):
            if waiting.ticket is not None and not waiting.welcomed and self._serves(waiting.ticket):
                self._welcome(waiting, events)
        return events

    def drop(self, viewer: str, peer: str) -> str | None:
        """The slave ended that viewer session: close its peer link; its ticket stays void."""
        self.dropped.add(peer)
        if self.serving is not None and self.serving[1] == peer:
            self.serving = None
        for candidate in list(self.peers):
            if candidate.ticket is not None and candidate.ticket.peer == peer:
                self._close(candidate)
                return viewer
        return None

    def sockets(self) -> list[socket.socket]:
        """What to wait on for reading."""
        return [*([self.sock] if self.listening else []), *(peer.conn.sock for peer in self.peers)]

    def writers(self) -> list[socket.socket]:
        """What to wait on for writing: peers with bytes their socket has not taken yet."""
        return [peer.conn.sock for peer in self.peers if peer.unsent()]

    def serve(self, readable: list) -> list[str]:
        """Accept, read and write what is ready; returns lines worth showing the user."""
        events: list[str] = []
        if self.listening and self.sock in readable:
            self._accept()
        now = self.clock()
        for peer in list(self.peers):
            if not peer.welcomed and now - peer.joined > HELLO_WITHIN:
                self._close(peer)
            elif not peer.secured:
                self._handshake(peer)
            else:
                self._flush(peer, events)
                if peer in self.peers and (peer.conn.sock in readable or peer.conn.pending()):
                    self._read(peer, events)
        return events

    def want_frame(self) -> bool:
        return any(self._ready(peer) for peer in self.peers)

    def send_frame(self, seq: int, wire: bytes) -> list[str]:
        """Offer an encoded FRAME message to every peer ready for one."""
        events: list[str] = []
        now = self.clock()
        for peer in list(self.peers):
            if not self._ready(peer):
                continue
            if peer.throttle is not None:
                if peer.throttle.delay(now, len(wire)) > 0:
                    continue
                peer.throttle.record(now, len(wire))
            if self._send(peer, wire, events):
                peer.in_flight, peer.sent_at = seq, now
                self.unreported_bytes += len(wire)
        return events

    def keep_alive(self) -> None:
        now = self.clock()
        for peer in list(self.peers):
            if peer.welcomed and not peer.unsent() and now - peer.sent_at >= KEEPALIVE_EVERY:
                peer.sent_at = now
                self._send(peer, Keepalive().encode(), [])

    def close(self) -> None:
        for peer in list(self.peers):
            self._close(peer)
        self.sock.close()

    def _ready(self, peer: Peer) -> bool:
        return peer.may_send() and self._serves(peer.ticket)

    def _serves(self, ticket: PeerTicket | None) -> bool:
        return ticket is not None and self.serving == (ticket.viewer, ticket.peer) and ticket.peer not in self.dropped

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self.sock.accept()
            except OSError:  # nothing more to accept (or the port went away)
                return
            if sum(1 for peer in self.peers if not peer.welcomed) >= MAX_WAITING:
                sock.close()
                continue
            secure = self.identity.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            conn = Connection.accepted(secure, format_hostport(*address[:2]))
            conn.sock.setblocking(False)
            self.peers.append(Peer(conn, joined=self.clock()))

    def _handshake(self, peer: Peer) -> None:
        if peer.handshake() is False:  # nothing to say to it
            self._close(peer)

    def _read(self, peer: Peer, events: list[str]) -> None:
        try:
            message = peer.conn.recv(0)
            while message is not None and peer in self.peers:
                self._handle(peer, message, events)
                message = peer.conn.recv(0) if peer.conn.pending() else None
        except (ConnectionLost, ServerError):
            self._lost(peer, events)

    def _handle(self, peer: Peer, message, events: list[str]) -> None:
        if peer.ticket is None:
            self._hello(peer, message, events)
        elif not peer.welcomed:
            return  # nothing counts before the slave lets this viewer in
        elif isinstance(message, Ack):
            if message.seq == peer.in_flight:
                peer.in_flight = None
        elif isinstance(message, (ViewerPause, ViewerResume)):
            peer.paused = isinstance(message, ViewerPause)
        elif isinstance(message, ViewerCap):
            peer.set_cap(message.cap_kbps)

    def _hello(self, peer: Peer, message, events: list[str]) -> None:
        ticket = self._check(message)
        if ticket is None:
            self._close(peer)
            return
        for other in self.peers:
            if other is not peer and other.ticket is not None and other.ticket.peer == ticket.peer:
                self._close(other)  # the same viewer session again: the newer link wins
        peer.ticket = ticket
        if self._serves(ticket):
            self._welcome(peer, events)

    def _welcome(self, peer: Peer, events: list[str]) -> None:
        peer.welcomed = True
        peer.set_cap(None)
        if self._send(peer, PeerWelcome(self.user).encode(), events):
            events.append(f"{peer.ticket.viewer} connected peer to peer")

    def _check(self, message) -> PeerTicket | None:
        if not isinstance(message, PeerHello) or self.signer is None:
            return None
        try:
            ticket = self.signer.check(message.ticket, PeerTicket, time.time())
        except CredentialError:
            return None
        return None if ticket.peer in self.dropped else ticket

    def _send(self, peer: Peer, data: bytes, events: list[str]) -> bool:
        """Queue ``data`` for the peer and write what its socket takes now."""
        peer.outbox += data
        self._flush(peer, events)
        return peer in self.peers

    def _flush(self, peer: Peer, events: list[str]) -> None:
        outcome = peer.flush(self.clock(), STALL_LIMIT)
        if outcome is Write.STALLED:
            if peer.ticket is not None:
                events.append(f"{peer.ticket.viewer}'s peer link took nothing for {STALL_LIMIT:g} s; closed")
            self._close(peer)
        elif outcome is Write.LOST:
            self._lost(peer, events)

    def _lost(self, peer: Peer, events: list[str]) -> None:
        if peer.welcomed:
            events.append(f"{peer.ticket.viewer}'s peer link closed")
        self._close(peer)

    def _close(self, peer: Peer) -> None:
        if peer in self.peers:
            self.peers.remove(peer)
        peer.conn.close()
