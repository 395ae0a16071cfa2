"""The broadcaster's side of turbo mode (P1): it listens for viewers the servers sent to it,
checks each one's peer ticket, and sends it images as the slave would: the newest frame
once the previous one is acknowledged, within the viewer's cap, nothing while it pauses.

The link is TLS with a certificate made for this broadcaster, which viewers pin by its
fingerprint (``client/peer_tls.py``); the handshake runs without blocking the broadcast.
A connection that does not show a valid ticket for this broadcast within a few seconds
is closed without a word: a stranger gets nothing. The broadcaster never holds the
cluster secret, only this broadcast's turbo key (``common.turbo.turbo_key``).
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field

from client.connection import Connection
from client.errors import ConnectionLost, ServerError
from client.peer_tls import make_identity
from common.addresses import format_hostport
from common.messages.streaming import Ack, Keepalive, ViewerCap, ViewerPause, ViewerResume
from common.messages.turbo import PeerHello, PeerWelcome
from common.throttle import Throttle, kbps_to_bytes
from common.tokens import CredentialError, PeerTicket, Signer

HELLO_WITHIN = 5.0  # seconds a new connection has to show its ticket
MAX_WAITING = 16  # connections at once that have not shown one
KEEPALIVE_EVERY = 1.0  # the viewer tells a quiet link from a lost one by these
SEND_TIMEOUT = 2.0


@dataclass(eq=False)
class Peer:
    """One viewer on the peer link."""

    conn: Connection
    secured: bool = False  # the TLS handshake is done
    ticket: PeerTicket | None = None
    joined: float = field(default_factory=time.monotonic)
    in_flight: int | None = None
    paused: bool = False
    throttle: Throttle | None = None
    sent_at: float = 0.0

    def set_cap(self, cap_kbps: float | None) -> None:
        self.throttle = Throttle(kbps_to_bytes(cap_kbps)) if cap_kbps else None

    def may_send(self) -> bool:
        return self.ticket is not None and self.in_flight is None and not self.paused


class PeerServer:
    def __init__(self, user: str, port: int = 0, host: str = "0.0.0.0"):
        self.user = user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.identity = make_identity()  # viewers pin its fingerprint
        self.signer: Signer | None = None
        self.session = ""
        self.peers: list[Peer] = []
        self.dropped: set[str] = set()  # viewer sessions thrown out: their tickets are void
        self.unreported_bytes = 0

    def use_key(self, key: str | None, session: str) -> None:
        """The turbo key of the broadcast session the slave accepted (None: turbo is off)."""
        self.signer = Signer(key) if key else None
        self.session = session

    def sockets(self) -> list[socket.socket]:
        return [self.sock, *(peer.conn.sock for peer in self.peers)]

    def serve(self, readable: list) -> list[str]:
        """Accept and read what is ready; returns lines worth showing the user."""
        events: list[str] = []
        if self.sock in readable:
            self._accept()
        now = time.monotonic()
        for peer in list(self.peers):
            if peer.ticket is None and now - peer.joined > HELLO_WITHIN:
                self._close(peer)
            elif not peer.secured:
                self._handshake(peer)
            elif peer.conn.sock in readable or peer.conn.pending():
                self._read(peer, events)
        return events

    def want_frame(self) -> bool:
        return any(peer.may_send() for peer in self.peers)

    def send_frame(self, seq: int, wire: bytes) -> list[str]:
        """Offer an encoded FRAME message to every peer ready for one."""
        events: list[str] = []
        now = time.monotonic()
        for peer in list(self.peers):
            if not peer.may_send():
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
        now = time.monotonic()
        for peer in list(self.peers):
            if peer.ticket is not None and now - peer.sent_at >= KEEPALIVE_EVERY:
                peer.sent_at = now
                self._send(peer, Keepalive().encode(), [])

    def drop(self, session: str) -> str | None:
        """Close a viewer session's peer link (thrown out, or gone); its ticket stays void."""
        self.dropped.add(session)
        for peer in self.peers:
            if peer.ticket is not None and peer.ticket.session == session:
                self._close(peer)
                return peer.ticket.viewer
        return None

    def close(self) -> None:
        for peer in list(self.peers):
            self._close(peer)
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if sum(1 for peer in self.peers if peer.ticket is None) >= MAX_WAITING:
                sock.close()
                continue
            secure = self.identity.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            conn = Connection.accepted(secure, format_hostport(*address[:2]))
            conn.sock.setblocking(False)  # until the handshake is done (``_handshake``)
            self.peers.append(Peer(conn))

    def _handshake(self, peer: Peer) -> None:
        """The next step of a peer's TLS handshake, as far as its data has come."""
        try:
            peer.conn.sock.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:  # not TLS, or not our viewer's client: nothing to say to it
            self._close(peer)
            return
        peer.secured = True
        peer.conn.sock.settimeout(SEND_TIMEOUT)

    def _read(self, peer: Peer, events: list[str]) -> None:
        try:
            message = peer.conn.recv(0)
            while message is not None:
                self._handle(peer, message, events)
                message = peer.conn.recv(0) if peer in self.peers and peer.conn.pending() else None
        except (ConnectionLost, ServerError):
            if peer.ticket is not None:
                events.append(f"{peer.ticket.viewer}'s peer link closed")
            self._close(peer)

    def _handle(self, peer: Peer, message, events: list[str]) -> None:
        if peer.ticket is None:
            self._hello(peer, message, events)
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
            if other is not peer and other.ticket is not None and other.ticket.session == ticket.session:
                self._close(other)  # the same viewer session again: the newer link wins
        peer.ticket = ticket
        peer.set_cap(ticket.cap_kbps)
        if self._send(peer, PeerWelcome(self.user).encode(), events):
            events.append(f"{ticket.viewer} connected peer to peer")

    def _check(self, message) -> PeerTicket | None:
        if not isinstance(message, PeerHello) or self.signer is None:
            return None
        try:
            ticket = self.signer.check(message.ticket, PeerTicket)
        except CredentialError:
            return None
        if ticket.broadcast != self.session or ticket.session in self.dropped:
            return None
        return ticket

    def _send(self, peer: Peer, data: bytes, events: list[str]) -> bool:
        try:
            peer.conn.send_bytes(data)
            return True
        except ConnectionLost:
            if peer.ticket is not None:
                events.append(f"{peer.ticket.viewer}'s peer link closed")
            self._close(peer)
            return False

    def _close(self, peer: Peer) -> None:
        if peer in self.peers:
            self.peers.remove(peer)
        peer.conn.close()
