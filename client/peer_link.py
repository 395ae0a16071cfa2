"""One viewer's peer link, as the broadcaster holds it in turbo mode (P1): its non-blocking
TLS handshake, its outbox, and what may be sent on it now.

Every socket is non-blocking, the handshake and each write included: what the socket does not
take waits in the link's own small outbox, and the time it has taken nothing is kept, so the
``PeerServer`` can close a link that stalls. Which links are served, and when, is the
server's to decide.
"""

from __future__ import annotations

import enum
import ssl
from dataclasses import dataclass, field

from client.connection import Connection
from common.throttle import Throttle, kbps_to_bytes
from common.tokens import PeerTicket


class Write(enum.Enum):
    """How far a flush got."""

    DONE = "done"  # the outbox is empty
    WAITING = "waiting"  # the socket takes no more for now
    STALLED = "stalled"  # it has taken nothing for longer than allowed
    LOST = "lost"  # the connection failed


@dataclass(eq=False)
class Peer:
    """One viewer on the peer link."""

    conn: Connection
    joined: float  # when it connected, on the server's clock
    secured: bool = False  # the TLS handshake is done
    ticket: PeerTicket | None = None  # checked, but served only once the slave names it
    welcomed: bool = False
    in_flight: int | None = None
    paused: bool = False
    throttle: Throttle | None = None
    sent_at: float = 0.0
    outbox: bytearray = field(default_factory=bytearray)
    writing: bytes = b""  # what OpenSSL was last asked to write: a retry offers the same bytes
    stuck_since: float | None = None

    def set_cap(self, cap_kbps: float | None) -> None:
        """The viewer's cap, never above the one its ticket carries (a viewer cannot lift it)."""
        limit = self.ticket.cap_kbps if self.ticket is not None else None
        if limit is not None:
            cap_kbps = limit if cap_kbps is None else min(cap_kbps, limit)
        self.throttle = Throttle(kbps_to_bytes(cap_kbps)) if cap_kbps else None

    def may_send(self) -> bool:
        return self.welcomed and self.in_flight is None and not self.paused and not self.unsent()

    def unsent(self) -> int:
        return len(self.writing) + len(self.outbox)

    def handshake(self) -> bool | None:
        """The next step of the TLS handshake, as far as its data has come: True once done,
        None while it waits for more, False if it failed (not TLS, or not our viewer's client)."""
        try:
            self.conn.sock.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return None
        except OSError:
            return False
        self.secured = True
        return True

    def flush(self, now: float, stall_limit: float) -> Write:
        """Write what the socket takes of the outbox now."""
        while self.unsent():
            if not self.writing:
                self.writing, self.outbox = bytes(self.outbox), bytearray()
            try:
                sent = self.conn.sock.send(self.writing)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return self._stuck(now, stall_limit)
            except OSError:
                return Write.LOST
            self.writing = self.writing[sent:]
        self.stuck_since = None
        return Write.DONE

    def _stuck(self, now: float, stall_limit: float) -> Write:
        if self.stuck_since is None:
            self.stuck_since = now
        return Write.STALLED if now - self.stuck_since > stall_limit else Write.WAITING
