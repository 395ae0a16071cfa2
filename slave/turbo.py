"""Turbo mode on the slave (P1-P3): with exactly one viewer, images go from the broadcaster
straight to that viewer; with more, back through here. The slave decides when, from the
viewer count, and keeps the switch gap-free (see ``common.messages.turbo`` for the steps).

While a viewer is on the peer link its stream here holds frames (``ViewerStream.peer``)
and the broadcaster uploads nothing; control (pause, cap, throw) still arrives here and
reaches the peer link: the viewer forwards pause and cap, and the end of the viewer's
session here, however it ends (left, thrown, connection lost), closes the peer link at the
broadcaster (PEER_DROP). The broadcaster's peer link serves only the one viewer session the
slave names (PEER_ALLOW): the one offered turbo mode, or on the peer path, or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from common.messages.turbo import PeerAllow, PeerDrop, TurboEnd, TurboOffer, TurboUpload
from common.tokens import BroadcastTicket, PeerTicket, Signer
from common.turbo import new_turbo_key, order_for, peer_id
from slave.fanout import Broadcast, ViewerStream

if TYPE_CHECKING:
    from slave.node import Slave

RETRY_AFTER = 10.0  # seconds before a viewer whose peer link failed is offered turbo again


@dataclass
class TurboState:
    """One broadcast's turbo mode."""

    candidates: tuple[str, ...]
    fingerprint: str  # of the broadcaster's peer-link certificate
    broadcaster_host: str
    key: str  # drawn here for this broadcast (``new_turbo_key``); only its broadcaster has it
    allowed: bool = False
    peer: object | None = None  # the viewer connection whose images go peer to peer
    uploading: bool = True  # what the broadcaster was last told
    ending: object | None = None  # a viewer to send back through here on the next upload
    offered: object | None = None
    retry_at: float = 0.0
    serving: str = ""  # the peer name the broadcaster was last told to serve (PEER_ALLOW)
    signer: Signer = field(init=False)  # signs peer tickets with ``key``

    def __post_init__(self) -> None:
        self.signer = Signer(self.key)


class TurboSwitch:
    def __init__(self, slave: "Slave"):
        self.slave = slave
        self.states: dict[str, TurboState] = {}
        self.bytes_saved = 0

    def started(self, broadcast: Broadcast, claims: BroadcastTicket, broadcaster_host: str) -> str | None:
        """A broadcaster (re)joined: its turbo key if it may use turbo mode."""
        self.ended(broadcast)
        if not claims.turbo or not claims.turbo_fingerprint:
            return None
        key = new_turbo_key()
        self.states[broadcast.user] = TurboState(claims.turbo, claims.turbo_fingerprint, broadcaster_host, key)
        return key

    def ended(self, broadcast: Broadcast) -> None:
        """The broadcaster left (or starts afresh): everyone comes back through here."""
        self.states.pop(broadcast.user, None)
        for viewer, stream in broadcast.viewers.items():
            if stream.peer:
                stream.peer = False
                viewer.send(TurboEnd())

    def allow(self, broadcast: Broadcast, allowed: bool) -> None:
        state = self.states.get(broadcast.user)
        if state is not None:
            state.allowed = allowed
            self.viewers_changed(broadcast)

    def viewers_changed(self, broadcast: Broadcast, left: object | None = None) -> None:
        """A viewer joined or left (``left``): offer turbo to a lone viewer, or end it."""
        state = self.states.get(broadcast.user)
        if state is None:
            return
        if left is not None and left in (state.peer, state.ending):
            state.peer = state.ending = None
            self._tell_broadcaster(broadcast, state, upload=True)
        if state.peer is not None and (len(broadcast.viewers) != 1 or not state.allowed):
            state.ending, state.peer = state.peer, None
            self._tell_broadcaster(broadcast, state, upload=True)
        self._offer(broadcast, state)
        self._name_served(broadcast, state)

    def path(self, broadcast: Broadcast, viewer: object, p2p: bool) -> None:
        """The viewer says where its images come from now."""
        state = self.states.get(broadcast.user)
        stream = broadcast.viewers.get(viewer)
        if state is None or stream is None:
            return
        self.slave.log.info(
            "turbo: {viewer} of {user} on the {path} path",
            viewer=stream.user,
            user=broadcast.user,
            path="p2p" if p2p else "server",
        )
        if not p2p:
            state.retry_at = self.slave.reactor.seconds() + RETRY_AFTER
            state.offered = None
            if state.peer is viewer:
                self._back_through_here(broadcast, state, stream)
                self._tell_broadcaster(broadcast, state, upload=True)
            self.slave.reactor.callLater(RETRY_AFTER, self._retry, broadcast, state)
        elif state.peer is None and state.ending is None and self._lone(broadcast, state) is viewer:
            state.peer = viewer
            stream.peer = True
            self._tell_broadcaster(broadcast, state, upload=False)
        elif state.peer is not viewer:
            viewer.send(TurboEnd())
        self._name_served(broadcast, state)

    def uploaded(self, broadcast: Broadcast) -> None:
        """A frame arrived: a viewer waiting to come back through here does so with it."""
        state = self.states.get(broadcast.user)
        if state is not None and state.ending is not None:
            stream = broadcast.viewers.get(state.ending)
            if stream is not None:
                self._back_through_here(broadcast, state, stream)
            state.ending = None

    def session_ended(self, broadcast: Broadcast, stream: ViewerStream) -> None:
        """A viewer session of this broadcast ended here, however it ended: its peer link,
        if any, is closed at the broadcaster and its ticket void there."""
        state = self.states.get(broadcast.user)
        broadcaster = self.slave.broadcasters.get(broadcast.user)
        if state is not None and broadcaster is not None and stream.session:
            broadcaster.send(PeerDrop(stream.user, peer_id(state.key, stream.session)))

    def on_peer(self) -> int:
        return sum(1 for state in self.states.values() if state.peer is not None)

    def _lone(self, broadcast: Broadcast, state: TurboState) -> object | None:
        if state.allowed and len(broadcast.viewers) == 1:
            return next(iter(broadcast.viewers))
        return None

    def _retry(self, broadcast: Broadcast, state: TurboState) -> None:
        self._offer(broadcast, state)
        self._name_served(broadcast, state)

    def _offer(self, broadcast: Broadcast, state: TurboState) -> None:
        viewer = self._lone(broadcast, state)
        if self.states.get(broadcast.user) is not state or viewer is None or state.peer is not None:
            return
        if viewer is state.offered or self.slave.reactor.seconds() < state.retry_at:
            return
        stream = broadcast.viewers[viewer]
        candidates = order_for(state.candidates, viewer.transport.getPeer().host, state.broadcaster_host)
        if not candidates:
            return
        ticket = state.signer.sign(PeerTicket(stream.user, peer_id(state.key, stream.session), stream.cap_kbps))
        state.offered = viewer
        viewer.send(TurboOffer(candidates, ticket, state.fingerprint))
        self.slave.log.info(
            "turbo offered to {viewer} of {user}: {candidates}",
            viewer=stream.user,
            user=broadcast.user,
            candidates=candidates,
        )

    def _back_through_here(self, broadcast: Broadcast, state: TurboState, stream: ViewerStream) -> None:
        stream.peer = False
        for viewer, candidate in broadcast.viewers.items():
            if candidate is stream:
                viewer.send(TurboEnd())
        if state.peer is not None and broadcast.viewers.get(state.peer) is stream:
            state.peer = None
        state.offered = None

    def _tell_broadcaster(self, broadcast: Broadcast, state: TurboState, upload: bool) -> None:
        broadcaster = self.slave.broadcasters.get(broadcast.user)
        if broadcaster is None or state.uploading == upload:
            return
        state.uploading = upload
        viewer = state.peer or state.ending
        stream = broadcast.viewers.get(viewer) if viewer is not None else None
        broadcaster.send(TurboUpload(upload, stream.user if stream else broadcast.user))

    def _name_served(self, broadcast: Broadcast, state: TurboState) -> None:
        """Tell the broadcaster which viewer session its peer link may serve: the one on the
        peer path, else the lone viewer offered turbo mode, else none."""
        if self.states.get(broadcast.user) is not state:
            return
        viewer = state.peer
        if viewer is None and state.offered is not None and state.offered is self._lone(broadcast, state):
            viewer = state.offered
        stream = broadcast.viewers.get(viewer) if viewer is not None else None
        serving = peer_id(state.key, stream.session) if stream is not None else ""
        broadcaster = self.slave.broadcasters.get(broadcast.user)
        if serving != state.serving and broadcaster is not None:
            state.serving = serving
            broadcaster.send(PeerAllow(stream.user, serving) if stream is not None else PeerAllow())
