"""The slave's logic: admitting broadcasters and viewers, and reporting to the masters.

A broadcaster or viewer arrives with a ticket a master signed for this very slave (so the
slave needs no round trip to know a master placed them here). Broadcasts live in
``broadcasts`` by user. When a broadcaster's connection drops without a clean stop, its
broadcast is kept for ``grace`` seconds, so a broadcaster that reconnects (through a master,
which sends the same session back here) carries on with its viewers still attached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from twisted.logger import Logger

from common.messaging import RequestError
from common.protocol import MessageType as T
from common.tokens import CredentialError, Signer
from slave.drain import DRAINED, LIVE, Drain
from slave.fanout import Broadcast, FanoutStats, ViewerStream


@dataclass
class SlaveConfig:
    id: str
    addr: str
    metrics_addr: str = ""
    grace: float = 10.0
    refresh_interval: float = 120.0
    heartbeat_interval: float = 1.0
    drain_deadline: float = 30.0
    master_timeout: float = 5.0
    keepalive: float = 2.0
    container: str = ""
    stall_timeout: float = 20.0
    max_upload_kbps: float = 0.0
    upload_window: int = 32


class Peer(Protocol):
    """What the slave needs of a client connection."""

    def send_json(self, msg_type: int, **fields: object) -> None: ...

    def drop(self, msg_type: int, **fields: object) -> None: ...

    def send_error_and_close(self, code: str, message: str) -> None: ...


@dataclass
class ViewerSession:
    """Where a viewer session lives here, and what the masters were told of it."""

    broadcast: Broadcast
    peer: Peer
    report: dict[str, Any]


class MasterReporter(Protocol):
    def report(self, msg_type: int, **fields: object) -> None: ...

    def send_heartbeat(self) -> None: ...

    def send_table(self) -> None: ...

    def check_alive(self, timeout: float) -> None: ...


class Slave:
    log = Logger()

    def __init__(self, config: SlaveConfig, signer: Signer, reactor):
        self.config = config
        self.signer = signer
        self.reactor = reactor
        self.stats = FanoutStats()
        self.broadcasts: dict[str, Broadcast] = {}
        self.broadcasters: dict[str, Peer] = {}
        self.viewer_sessions: dict[str, ViewerSession] = {}
        self._orphan_timers: dict[str, Any] = {}
        self.master: MasterReporter | None = None
        self.state = LIVE
        self.drain: Drain | None = None
        self.heartbeats_sent = 0
        self.moves = {"broadcasts": 0, "viewers": 0}

    # --- admission --------------------------------------------------------------------
    def _claims(self, ticket: object, kind: str) -> dict[str, Any]:
        try:
            claims = self.signer.check_ticket(ticket)
        except CredentialError as exc:
            raise RequestError("bad_ticket", str(exc)) from None
        if claims.get("kind") != kind:
            raise RequestError("bad_ticket", f"this ticket is not for a {kind}")
        if claims.get("slave") != self.config.id:
            raise RequestError("wrong_slave", "this ticket was issued for another slave; ask a master again")
        return claims

    def start_broadcast(self, ticket: object, peer: Peer) -> Broadcast:
        claims = self._claims(ticket, "broadcast")
        if self.state != LIVE:
            raise RequestError("draining", "this slave is draining; ask a master again")
        user, session = claims["user"], claims["session"]
        broadcast = self.broadcasts.get(user)
        if broadcast is not None and broadcast.moved:
            broadcast = None  # it comes back after moving away: a fresh broadcast (old viewers are leaving)
        if broadcast is not None and broadcast.session != session:
            raise RequestError("already_broadcasting", f"{user} is already broadcasting (one broadcast per user)")
        if broadcast is None:
            broadcast = self.broadcasts[user] = Broadcast(user, session, self.stats)
        self.report(T.SESSION_ADD, kind="broadcast", user=user, session=session)  # (re)confirms the entry
        self._cancel_orphan_timer(user)
        previous = self.broadcasters.get(user)
        if previous is not None and previous is not peer:
            previous.drop(T.RECONNECT, reason="replaced by a newer connection of the same broadcast")
        self.broadcasters[user] = peer
        self.log.info("broadcast of {user} started (session {session})", user=user, session=session)
        return broadcast

    def broadcaster_left(self, broadcast: Broadcast, peer: Peer, clean: bool) -> None:
        """The broadcaster's connection ended: at once if it stopped, after the grace if not."""
        if self.broadcasters.get(broadcast.user) is not peer:
            return
        del self.broadcasters[broadcast.user]
        if clean:
            self.end_broadcast(broadcast)
        else:
            self._orphan_timers[broadcast.user] = self.reactor.callLater(
                self.config.grace, self._orphan_expired, broadcast
            )

    def _orphan_expired(self, broadcast: Broadcast) -> None:
        self._orphan_timers.pop(broadcast.user, None)
        if broadcast.user not in self.broadcasters and not broadcast.moved:
            self.end_broadcast(broadcast)

    def broadcast_moved(self, broadcast: Broadcast) -> None:
        """The broadcast lives on another slave now (or will: its broadcaster is away): the
        viewers here are told to follow it, and it is forgotten once they have."""
        if broadcast.moved:
            return
        broadcast.moved = True
        self.moves["broadcasts"] += 1
        self.broadcasters.pop(broadcast.user, None)
        self._cancel_orphan_timer(broadcast.user)
        self.report(T.SESSION_REMOVE, kind="broadcast", user=broadcast.user, session=broadcast.session)
        for peer in list(broadcast.viewers):
            peer.send_json(T.MOVE, reason="the broadcast moved to another slave")
            self.moves["viewers"] += 1
        self._forget_if_left(broadcast)

    def broadcast_elsewhere(self, user: str, session: str) -> None:
        """A master saw this broadcast's broadcaster come back on another slave. If it is not
        connected here any more, the viewers kept here follow it."""
        broadcast = self.broadcasts.get(user)
        if broadcast is not None and broadcast.session == session and user not in self.broadcasters:
            self.broadcast_moved(broadcast)

    def _forget_if_left(self, broadcast: Broadcast) -> None:
        if broadcast.moved and not broadcast.viewers and self.broadcasts.get(broadcast.user) is broadcast:
            del self.broadcasts[broadcast.user]

    def migrate_broadcast(self, user: str, reason: str) -> None:
        """Ask a broadcaster to move to the slave a master chooses (rebalancing)."""
        broadcaster = self.broadcasters.get(user)
        if broadcaster is not None:
            broadcaster.send_json(T.MIGRATE, reason=reason)

    def disconnect_everyone(self, reason: str) -> None:
        for broadcast in list(self.broadcasts.values()):
            broadcaster = self.broadcasters.pop(broadcast.user, None)
            if broadcaster is not None:
                broadcaster.drop(T.RECONNECT, reason=reason)
            for peer in list(broadcast.viewers):
                peer.drop(T.RECONNECT, reason=reason)
                self.detach_viewer(broadcast, peer)
            if not broadcast.moved:
                self.report(T.SESSION_REMOVE, kind="broadcast", user=broadcast.user, session=broadcast.session)
            self.broadcasts.pop(broadcast.user, None)
            self._cancel_orphan_timer(broadcast.user)

    # --- drain (C7) -------------------------------------------------------------------
    def start_drain(self, deadline: float | None = None, on_empty=None) -> None:
        """Start draining. Asked again, it carries on; a later SIGTERM still gets its exit."""
        if self.drain is None:
            self.drain = Drain(self, deadline or self.config.drain_deadline, on_empty or (lambda: None))
            self.drain.start()
        elif on_empty is not None:
            self.drain.on_empty = on_empty
            if self.state == DRAINED:
                on_empty()

    def undrain(self) -> None:
        if self.drain is not None:
            self.drain.cancel()
            self.drain = None

    def _cancel_orphan_timer(self, user: str) -> None:
        timer = self._orphan_timers.pop(user, None)
        if timer is not None and timer.active():
            timer.cancel()

    def end_broadcast(self, broadcast: Broadcast) -> None:
        if self.broadcasts.get(broadcast.user) is not broadcast:
            return
        del self.broadcasts[broadcast.user]
        self._cancel_orphan_timer(broadcast.user)
        for peer in list(broadcast.viewers):
            peer.drop(T.BROADCAST_ENDED, user=broadcast.user)
            self.detach_viewer(broadcast, peer)
        self.report(T.SESSION_REMOVE, kind="broadcast", user=broadcast.user, session=broadcast.session)
        self.log.info("broadcast of {user} ended", user=broadcast.user)

    def attach_viewer(self, ticket: object, peer: Peer, write) -> tuple[Broadcast, ViewerStream]:
        claims = self._claims(ticket, "view")
        broadcast = self.broadcasts.get(claims["target"])
        if broadcast is None or broadcast.moved:
            raise RequestError("not_here", f"{claims['target']} is not broadcasting on this slave; ask a master again")
        session = str(claims.get("session", ""))
        if session in self.viewer_sessions:
            raise RequestError("bad_ticket", "this ticket was already used; ask a master again")
        stream = ViewerStream(claims["user"], write, self.stats, self.reactor, session, claims.get("cap_kbps"))
        broadcast.add_viewer(peer, stream)
        report = {
            "kind": "view",
            "user": stream.user,
            "session": session,
            "target": broadcast.user,
            "speed_cap": claims.get("speed_cap"),
            "allowance": claims.get("allowance"),
        }
        self.viewer_sessions[session] = ViewerSession(broadcast, peer, report)
        self.report(T.SESSION_ADD, **report)
        self._viewer_event(broadcast, "join", stream.user)
        return broadcast, stream

    def detach_viewer(self, broadcast: Broadcast, peer: Peer) -> None:
        stream = broadcast.remove_viewer(peer)
        if stream is not None:
            self.viewer_sessions.pop(stream.session, None)
            self.report(T.SESSION_REMOVE, kind="view", user=stream.user, session=stream.session)
            self._viewer_event(broadcast, "leave", stream.user)
            self._forget_if_left(broadcast)

    def set_viewer_cap(self, session: str, cap_kbps: float | None) -> None:
        """A master recomputed this viewer session's share of its user's allowance (S7)."""
        entry = self.viewer_sessions.get(session)
        stream = entry.broadcast.viewers.get(entry.peer) if entry else None
        if stream is not None and stream.cap_kbps != (cap_kbps or None):
            stream.set_cap(cap_kbps)
            entry.peer.send_json(T.VIEWER_CAP, cap_kbps=stream.cap_kbps)

    def set_broadcast_paused(self, broadcast: Broadcast, paused: bool) -> None:
        """The broadcaster paused or resumed (U9): the session stays, viewers are told."""
        broadcast.paused = paused
        for peer in list(broadcast.viewers):
            peer.send_json(T.BROADCAST_PAUSED, user=broadcast.user, paused=paused)

    def check_viewers(self) -> None:
        """Once a second: disconnect viewers that acknowledged nothing for ``stall_timeout``
        seconds, and send a keepalive to viewers that got nothing for ``keepalive`` seconds
        (paused or capped), so a viewer can tell a quiet stream from a vanished slave."""
        now = self.reactor.seconds()
        for broadcast in self.broadcasts.values():
            for peer, stream in broadcast.viewers.items():
                if stream.in_flight is None and now - stream.sent_at > self.config.keepalive:
                    stream.sent_at = now
                    peer.send_json(T.KEEPALIVE)
        self.drop_stalled_viewers(now)

    def drop_stalled_viewers(self, now: float) -> None:
        """Disconnect viewers that acknowledged nothing for ``stall_timeout`` seconds."""
        limit = now - self.config.stall_timeout
        for broadcast in list(self.broadcasts.values()):
            for peer, stream in list(broadcast.viewers.items()):
                since = stream.stalled_since()
                if since is not None and since < limit:
                    self.log.info("dropping stalled viewer {user} of {target}", user=stream.user, target=broadcast.user)
                    peer.send_error_and_close(
                        "stalled", f"no frame acknowledged for {self.config.stall_timeout:g} s; viewer dropped"
                    )
                    self.detach_viewer(broadcast, peer)

    def _viewer_event(self, broadcast: Broadcast, event: str, viewer: str) -> None:
        broadcaster = self.broadcasters.get(broadcast.user)
        if broadcaster is not None:
            broadcaster.send_json(T.VIEWER_EVENT, event=event, viewer=viewer, viewers=len(broadcast.viewers))

    # --- reports to the masters -------------------------------------------------------
    def report(self, msg_type: int, **fields: object) -> None:
        """Send a report if a master link is up; if not, the full table sent when the
        link comes back covers it."""
        if self.master is not None:
            self.master.report(msg_type, **fields)

    def send_heartbeat(self) -> None:
        if self.master is not None:
            self.master.check_alive(self.config.master_timeout)
        if self.master is not None:
            self.master.send_heartbeat()
            self.heartbeats_sent += 1

    def send_table(self) -> None:
        if self.master is not None:
            self.master.send_table()

    def load(self) -> int:
        return len(self.broadcasts) + self.viewer_count()

    def viewer_count(self) -> int:
        return sum(len(b.viewers) for b in self.broadcasts.values())

    def heartbeat(self) -> dict[str, Any]:
        return {
            "load": self.load(),
            "broadcasts": len(self.broadcasts),
            "viewers": self.viewer_count(),
            "state": self.state,
        }

    def session_table(self) -> dict[str, Any]:
        return {
            "broadcasts": [{"user": b.user, "session": b.session} for b in self.broadcasts.values() if not b.moved],
            "viewers": [v.report for v in self.viewer_sessions.values()],
        }
