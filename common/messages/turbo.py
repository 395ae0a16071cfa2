"""Turbo mode messages (P1-P3): the slave coordinates who sends images where; the viewer
and the broadcaster talk directly only on the peer link (hello, welcome, then FRAME, ACK,
VIEWER_PAUSE/RESUME and VIEWER_CAP as on a slave connection).

The switch, as the slave drives it (``slave/turbo.py``):
1. one viewer, and the broadcaster sent TURBO_ALLOW: the slave sends the viewer
   TURBO_OFFER (candidates to try, a peer ticket);
2. the viewer connects, says PEER_HELLO, gets PEER_WELCOME and images, and tells the slave
   TURBO_PATH(p2p); the slave tells the broadcaster TURBO_UPLOAD(off);
3. a second viewer: the slave sends TURBO_UPLOAD(on) at once, and on the first frame
   uploaded TURBO_END to the first viewer, which pauses its peer link (it stays open);
4. back to one viewer: a new TURBO_OFFER; the viewer resumes its peer link.
A lost peer link: the viewer sends TURBO_PATH(server) and the slave has uploads resume.
Whatever the step, the slave tells the broadcaster with PEER_ALLOW which one viewer session
its peer link may serve (the one offered or on the peer path, or none), and with PEER_DROP
whenever a viewer session ends however it ends, so the peer link never serves anyone the
slave does not count as watching.
"""

from __future__ import annotations

from common.messages.fields import Count, Flag, Name, Ticket, UserName
from common.messages.schema import Control, control
from common.protocol import MessageType as T
from common.turbo import Candidates, Fingerprint


@control(T.TURBO_ALLOW)
class TurboAllow(Control):
    allowed: Flag


@control(T.TURBO_OFFER)
class TurboOffer(Control):
    """Try these addresses of the broadcaster, in order, with this peer ticket; the peer
    link's TLS certificate must have this fingerprint."""

    candidates: Candidates
    ticket: Ticket
    fingerprint: Fingerprint


@control(T.TURBO_PATH)
class TurboPath(Control):
    """The viewer's images now come over the peer link (``p2p``) or not; ``why`` when not."""

    p2p: Flag
    why: Name = ""


@control(T.TURBO_END)
class TurboEnd(Control):
    pass


@control(T.TURBO_UPLOAD)
class TurboUpload(Control):
    """Upload to the slave (``upload``) or not, because ``viewer`` gets images peer to peer."""

    upload: Flag
    viewer: UserName


@control(T.PEER_ALLOW)
class PeerAllow(Control):
    """The peer link may send images to ``viewer``'s session named ``peer`` (the one the
    slave offered turbo mode to, or has on the peer path), and to no other; empty: to none."""

    viewer: UserName | None = None
    peer: Name = ""


@control(T.PEER_DROP)
class PeerDrop(Control):
    """Close the peer link of ``viewer``'s session named ``peer``: that session ended on the
    slave (the viewer left, was thrown, or its connection died); its ticket is void."""

    viewer: UserName
    peer: Name


@control(T.PEER_HELLO)
class PeerHello(Control):
    ticket: Ticket


@control(T.PEER_WELCOME)
class PeerWelcome(Control):
    user: UserName


@control(T.TURBO_BYTES)
class TurboBytes(Control):
    """Image bytes the broadcaster sent peer to peer since its last report."""

    bytes: Count
