"""Relay chain messages (C10).

A relay slave pulls a broadcast from its upstream slave over that slave's client port,
exactly as a viewer does (FRAME in, ACK out, the same per-viewer flow control), but starts
with RELAY_START and a relay ticket it signed itself with the slave key. It asks a
master for an upstream with RELAY_UPSTREAM_REQUEST on its master link; the answer names a
slave (empty: the broadcast is not live anywhere now).
"""

from __future__ import annotations

from common.messages.fields import Address, Count, Name, Ticket, UserName
from common.messages.schema import Control, control
from common.protocol import MessageType as T


@control(T.RELAY_START)
class RelayStart(Control):
    ticket: Ticket


@control(T.RELAY_UPSTREAM_REQUEST)
class RelayUpstreamRequest(Control):
    """``avoid``: the upstream being left (too slow, or lost), not to be chosen again."""

    target: UserName
    avoid: Name = ""


@control(T.RELAY_UPSTREAM)
class RelayUpstream(Control):
    target: UserName
    slave: Name = ""
    addr: Address = ""
    depth: Count = 0
