"""Turbo mode on the slave (P1-P3): with exactly one viewer, images go from the broadcaster
straight to that viewer; with more, back through here. The slave decides when, from the
viewer count, and keeps the switch gap-free: its states and steps are ``slave.turbo_phase``.

While a viewer is on the peer link its stream here holds frames (``ViewerStream.peer``)
and the broadcaster uploads nothing; control (pause, cap, throw) still arrives here and
reaches the peer link: the viewer forwards pause and cap, and the end of the viewer's
session here, however it ends (left, thrown, connection lost), closes the peer link at the
broadcaster (PEER_DROP). The broadcaster's peer link serves only the one viewer session the
slave names (PEER_ALLOW): the one offered turbo mode, or on the peer path, or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from common.messages.turbo import PeerAllow, PeerDrop, TurboEnd, TurboOffer, TurboUpload
from common.signing import Signer
from common.tokens import BroadcastTicket, PeerTicket
from common.turbo import new_turbo_key, order_for, peer_id
from slave.broadcasts import BroadcastTable
from slave.fanout import Broadcast, ViewerStream
from slave.turbo_phase import Phase, Step, TurboPhase

RETRY_AFTER = 10.0  # seconds before a viewer whose peer link failed is offered turbo again


@dataclass
class TurboState:
    """One broadcast's turbo mode."""

    candidates: tuple[str, ...]
    fingerprint: str  # of the broadcaster's peer-link certificate
    broadcaster_host: str
    key: str  # drawn here for this broadcast (``new_turbo_key``); only its broadcaster has it
    allowed: bool = False
    uploading: bool = True  # what the broadcaster was last told
    retry_at: float = 0.0
    serving: str = ""  # the peer name the broadcaster was last told to serve (PEER_ALLOW)
    phase: TurboPhase = field(default_factory=TurboPhase)
    signer: Signer = field(init=False)  # signs peer tickets with ``key``

    def __post_init__(self) -> None:
        self.signer = Signer(self.key)


class TurboSwitch:
    log = Logger()

    def __init__(self, table: BroadcastTable, reactor: IReactorTime):
        self.table = table
        self.reactor = reactor
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
        phase = state.phase
        if left is not None and phase.viewer is left:
            was_uploading = phase.state is Phase.OFFERED
            phase.fire(Step.LEFT)
            if not was_uploading:
                self._tell_broadcaster(broadcast, state, upload=True)
        if phase.state is Phase.PEER and (len(broadcast.viewers) != 1 or not state.allowed):
            phase.fire(Step.SHARE)
            self._tell_broadcaster(broadcast, state, upload=True)
        self._offer(broadcast, state)
        self._name_served(broadcast, state)

    def path(self, broadcast: Broadcast, viewer: object, p2p: bool) -> None:
        """The viewer says where its images come from now."""
        state = self.states.get(broadcast.user)
        stream = broadcast.viewers.get(viewer)
        if state is None or stream is None:
            return
        path = "p2p" if p2p else "server"
        self.log.info(
            "turbo: {viewer} of {user} on the {path} path", viewer=stream.user, user=broadcast.user, path=path
        )
        phase = state.phase
        if not p2p:
            state.retry_at = self.reactor.seconds() + RETRY_AFTER
            if phase.state is Phase.OFFERED:
                phase.fire(Step.DECLINE)
            elif phase.state is Phase.PEER and phase.viewer is viewer:
                self._back_through_here(broadcast, stream)
                phase.fire(Step.BACK)
                self._tell_broadcaster(broadcast, state, upload=True)
            self.reactor.callLater(RETRY_AFTER, self._retry, broadcast, state)
        elif phase.state in (Phase.SERVER, Phase.OFFERED) and self._lone(broadcast, state) is viewer:
            phase.fire(Step.TAKE, viewer)
            stream.peer = True
            self._tell_broadcaster(broadcast, state, upload=False)
        elif not (phase.state is Phase.PEER and phase.viewer is viewer):
            viewer.send(TurboEnd())
        self._name_served(broadcast, state)

    def uploaded(self, broadcast: Broadcast) -> None:
        """A frame arrived: a viewer waiting to come back through here does so with it."""
        state = self.states.get(broadcast.user)
        if state is not None and state.phase.state is Phase.ENDING:
            stream = broadcast.viewers.get(state.phase.viewer)
            if stream is not None:
                self._back_through_here(broadcast, stream)
            state.phase.fire(Step.UPLOAD)

    def session_ended(self, broadcast: Broadcast, stream: ViewerStream) -> None:
        """A viewer session of this broadcast ended here, however it ended: its peer link,
        if any, is closed at the broadcaster and its ticket void there."""
        state = self.states.get(broadcast.user)
        broadcaster = self.table.broadcaster(broadcast.user)
        if state is not None and broadcaster is not None and stream.session:
            broadcaster.send(PeerDrop(stream.user, peer_id(state.key, stream.session)))

    def on_peer(self) -> int:
        return sum(1 for state in self.states.values() if state.phase.state is Phase.PEER)

    def _lone(self, broadcast: Broadcast, state: TurboState) -> object | None:
        if state.allowed and len(broadcast.viewers) == 1:
            return next(iter(broadcast.viewers))
        return None

    def _retry(self, broadcast: Broadcast, state: TurboState) -> None:
        self._offer(broadcast, state)
        self._name_served(broadcast, state)

    def _offer(self, broadcast: Broadcast, state: TurboState) -> None:
        viewer = self._lone(broadcast, state)
        if self.states.get(broadcast.user) is not state or viewer is None or state.phase.state is not Phase.SERVER:
            return
        if self.reactor.seconds() < state.retry_at:
            return
        stream = broadcast.viewers[viewer]
        candidates = order_for(state.candidates, viewer.transport.getPeer().host, state.broadcaster_host)
        if not candidates:
            return
        ticket = state.signer.sign(PeerTicket(stream.user, peer_id(state.key, stream.session), stream.cap_kbps))
        state.phase.fire(Step.OFFER, viewer)
        viewer.send(TurboOffer(candidates, ticket, state.fingerprint))
        self.log.info(
            "turbo offered to {viewer} of {user}: {candidates}",
            viewer=stream.user,
            user=broadcast.user,
            candidates=candidates,
        )

    def _back_through_here(self, broadcast: Broadcast, stream: ViewerStream) -> None:
        stream.peer = False
        for viewer, candidate in broadcast.viewers.items():
            if candidate is stream:
                viewer.send(TurboEnd())

    def _tell_broadcaster(self, broadcast: Broadcast, state: TurboState, upload: bool) -> None:
        broadcaster = self.table.broadcaster(broadcast.user)
        if broadcaster is None or state.uploading == upload:
            return
        state.uploading = upload
        phase = state.phase
        viewer = phase.viewer if phase.state in (Phase.PEER, Phase.ENDING) else None
        stream = broadcast.viewers.get(viewer) if viewer is not None else None
        broadcaster.send(TurboUpload(upload, stream.user if stream else broadcast.user))

    def _name_served(self, broadcast: Broadcast, state: TurboState) -> None:
        """Tell the broadcaster which viewer session its peer link may serve: the one on the
        peer path, else the lone viewer offered turbo mode, else none."""
        if self.states.get(broadcast.user) is not state:
            return
        phase = state.phase
        viewer = phase.viewer
        if phase.state is not Phase.PEER and viewer is not self._lone(broadcast, state):
            viewer = None
        stream = broadcast.viewers.get(viewer) if viewer is not None else None
        serving = peer_id(state.key, stream.session) if stream is not None else ""
        broadcaster = self.table.broadcaster(broadcast.user)
        if serving != state.serving and broadcaster is not None:
            state.serving = serving
            broadcaster.send(PeerAllow(stream.user, serving) if stream is not None else PeerAllow())
