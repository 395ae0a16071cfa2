"""Turbo mode's switch for one broadcast (P1-P3): where its lone viewer's images come from,
as a state machine. ``slave.turbo`` fires these events; the messages each one sends are
there (and the steps on the wire in ``common.messages.turbo``).

=======  =======  =======  ==================================================================
from     event    to       when
=======  =======  =======  ==================================================================
server   offer    offered  the broadcast has one viewer, turbo is allowed: it gets a ticket
server   take     peer     the lone viewer says its images come peer to peer now
offered  take     peer     (the usual way there): the broadcaster stops uploading
offered  decline  server   the viewer's peer link failed: offered again ``RETRY_AFTER`` s on
peer     back     server   the viewer's peer link failed: uploads resume at once
peer     share    ending   a second viewer, or turbo no longer allowed: uploads resume, and
                           the viewer stays on the peer link until they arrive
ending   upload   server   the first upload: the viewer is told to take the slave's frames
offered  left     server   that viewer left
peer     left     server
ending   left     server
=======  =======  =======  ==================================================================

Every state but ``server`` concerns one viewer, ``viewer``: the one offered turbo mode, on
the peer path, or leaving it. The switch of a broadcast is forgotten when its broadcaster
leaves (everyone comes back through the slave) or starts afresh.
"""

from __future__ import annotations

from enum import Enum

from slave.transitions import Machine


class Phase(Enum):
    SERVER = "server"
    OFFERED = "offered"
    PEER = "peer"
    ENDING = "ending"


class Step(Enum):
    OFFER = "offer"
    TAKE = "take"
    DECLINE = "decline"
    BACK = "back"
    SHARE = "share"
    UPLOAD = "upload"
    LEFT = "left"


TRANSITIONS: dict[tuple[Phase, Step], Phase] = {
    (Phase.SERVER, Step.OFFER): Phase.OFFERED,
    (Phase.SERVER, Step.TAKE): Phase.PEER,
    (Phase.OFFERED, Step.TAKE): Phase.PEER,
    (Phase.OFFERED, Step.DECLINE): Phase.SERVER,
    (Phase.PEER, Step.BACK): Phase.SERVER,
    (Phase.PEER, Step.SHARE): Phase.ENDING,
    (Phase.ENDING, Step.UPLOAD): Phase.SERVER,
    (Phase.OFFERED, Step.LEFT): Phase.SERVER,
    (Phase.PEER, Step.LEFT): Phase.SERVER,
    (Phase.ENDING, Step.LEFT): Phase.SERVER,
}

WITH_VIEWER = (Step.OFFER, Step.TAKE)  # the steps that name the viewer they concern


class TurboPhase(Machine[Phase, Step]):
    """One broadcast's turbo phase, and the viewer it concerns (None on ``server``)."""

    __slots__ = ("viewer",)

    def __init__(self) -> None:
        super().__init__(TRANSITIONS, Phase.SERVER)
        self.viewer: object | None = None

    def fire(self, event: Step, viewer: object | None = None) -> Phase:
        if (event in WITH_VIEWER) != (viewer is not None):
            raise ValueError(f"{event.value} {'needs' if event in WITH_VIEWER else 'takes no'} viewer")
        state = super().fire(event)
        if state is Phase.SERVER:
            self.viewer = None
        elif viewer is not None:
            self.viewer = viewer
        return state
