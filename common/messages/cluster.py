"""Slave <-> master messages (feature C4): hello, heartbeats, session reports, commands."""

from __future__ import annotations

import enum
from typing import Annotated

from common.messages.fields import (
    Address,
    Count,
    Flag,
    Kbps,
    Name,
    Proof,
    SessionId,
    Seconds,
    UserName,
    one_of,
    records,
)
from common.messages.schema import Check, Control, Record, control, record
from common.protocol import MessageType as T


class SlaveState(enum.StrEnum):
    """Where a slave is in its life: ``live`` takes new sessions; ``draining`` moves its
    sessions away; ``drained`` is empty and idle; ``dead`` stopped sending heartbeats (only
    masters conclude this)."""

    LIVE = "live"
    DRAINING = "draining"
    DRAINED = "drained"
    DEAD = "dead"


class SessionKind(enum.StrEnum):
    BROADCAST = "broadcast"
    VIEW = "view"


State = Annotated[SlaveState, Check(one_of(SlaveState))]
Kind = Annotated[SessionKind, Check(one_of(SessionKind))]


@control(T.SLAVE_HELLO)
class SlaveHello(Control):
    """The first message on a slave's link: who it is, proven with the slave key."""

    id: Name
    addr: Address
    proof: Proof
    metrics: Address = ""
    container: Name = ""
    web: Address = ""  # the slave's HTTP port: MJPEG for players, WebSocket for browsers


@record
class RelayLink(Record):
    """A broadcast this slave relays (C10): ``target``'s stream, pulled from ``upstream``."""

    target: UserName
    upstream: Name


@control(T.HEARTBEAT)
class Heartbeat(Control):
    """Every second: the slave's load and state; ``exiting`` if it drains to exit (SIGTERM)
    rather than because an operator asked."""

    load: Count
    broadcasts: Count
    viewers: Count
    state: State
    exiting: Flag = False
    turbo_viewers: Count = 0
    turbo_bytes: Count = 0  # in all, since the slave started
    relays: Annotated[tuple[RelayLink, ...], records(RelayLink)] = ()


@control(T.HEARTBEAT_ECHO)
class HeartbeatEcho(Control):
    pass


@record
class BroadcastReport(Record):
    user: UserName
    session: SessionId


@record
class ViewerReport(Record):
    """A viewer session as a slave reports it: who watches whom, and its budget inputs."""

    user: UserName
    session: SessionId
    target: UserName
    speed_cap: Kbps | None = None
    allowance: Kbps | None = None


@control(T.SESSION_ADD)
class SessionAdd(Control):
    kind: Kind
    user: UserName
    session: SessionId
    target: UserName | None = None
    speed_cap: Kbps | None = None
    allowance: Kbps | None = None

    def viewer(self) -> ViewerReport:
        return ViewerReport(self.user, self.session, self.target or "", self.speed_cap, self.allowance)


@control(T.SESSION_REMOVE)
class SessionRemove(Control):
    kind: Kind
    user: UserName
    session: SessionId


@control(T.SESSION_TABLE)
class SessionTable(Control):
    """A slave's complete list of sessions, which the tables are made to agree with."""

    broadcasts: Annotated[tuple[BroadcastReport, ...], records(BroadcastReport)] = ()
    viewers: Annotated[tuple[ViewerReport, ...], records(ViewerReport)] = ()


@control(T.TABLE_REQUEST)
class TableRequest(Control):
    pass


@control(T.SET_CAP)
class SetCap(Control):
    session: SessionId
    cap_kbps: Kbps | None = None


@control(T.DRAIN)
class Drain(Control):
    deadline: Seconds | None = None


@control(T.UNDRAIN)
class Undrain(Control):
    pass


@control(T.MIGRATE_BROADCAST)
class MigrateBroadcast(Control):
    user: UserName


@control(T.BROADCAST_ELSEWHERE)
class BroadcastElsewhere(Control):
    user: UserName
    session: SessionId
