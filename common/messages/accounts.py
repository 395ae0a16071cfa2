"""Client <-> master messages: accounts, placement redirects, status and operator commands."""

from __future__ import annotations

import enum
from typing import Annotated

from common.messages.cluster import State
from common.messages.fields import (
    Address,
    Count,
    Flag,
    Kbps,
    Name,
    NewPassword,
    Password,
    Proof,
    Seconds,
    SessionId,
    Ticket,
    Time,
    Token,
    UserName,
    number,
    one_of,
    records,
)
from common.messages.schema import Check, Control, Record, control, record
from common.errors import ErrorCode
from common.protocol import MessageType as T
from common.turbo import Fingerprint, Hosts


@control(T.REGISTER)
class Register(Control):
    user: UserName
    password: NewPassword


@control(T.LOGIN)
class Login(Control):
    user: UserName
    password: Password


@control(T.TOKEN)
class LoginToken(Control):
    user: UserName
    token: Token
    expires_at: Time


@control(T.PLAYER_TOKEN_REQUEST)
class PlayerTokenRequest(Control):
    """A short-lived token for players' URLs (``/watch``, ``/snapshot``), answered with a TOKEN."""

    token: Token
    ttl: Annotated[
        float,
        Check(number(0.001, 86400.0, "a player token lives at most 86400 seconds (24 hours)"), ErrorCode.BAD_REQUEST),
    ] = 3600.0


@control(T.LOGOUT)
class Logout(Control):
    """End every login and player token the user holds, this one included (answered OK)."""

    token: Token


@control(T.TOKENS_ENDED)
class TokensEnded(Control):
    """Pushed to a user's attached sessions, on every master, by ``Logout``: a session
    attached with a token of an earlier epoch than ``epoch`` is ended."""

    epoch: Count


@control(T.BROADCAST_REQUEST)
class BroadcastRequest(Control):
    """Where may I broadcast? ``move_from``: the slave a moving broadcast leaves (drain,
    rebalance); ``lost``: the slave the broadcaster just lost."""

    token: Token
    session: SessionId
    move_from: Name | None = None
    lost: Name | None = None
    turbo_port: Count | None = None  # listening for peer-to-peer viewers (turbo mode)
    turbo_hosts: Hosts = ()
    turbo_fingerprint: Fingerprint = ""  # of the peer link's certificate: viewers pin it


@control(T.VIEW_REQUEST)
class ViewRequest(Control):
    token: Token
    target: UserName
    speed_kbps: Kbps | None = None
    link: Name | None = None


@control(T.REDIRECT)
class Redirect(Control):
    """Go to this slave with this ticket."""

    slave: Address
    slave_id: Name
    ticket: Ticket
    cap_kbps: Kbps | None = None
    web: Address | None = None  # the slave's HTTP port, for browsers (WebSocket) and players (MJPEG)


@control(T.STATUS_REQUEST)
class StatusRequest(Control):
    """Operators send ``proof`` and see everything; users send ``token`` and see the
    cluster summary and the broadcasts they may watch."""

    token: Token | None = None
    proof: Proof | None = None


@record
class MasterRow(Record):
    id: Name
    state: State
    heartbeat_age: Seconds
    addr: Address | None = None


@record
class SlaveRow(Record):
    id: Name
    state: State
    load: Count
    broadcasts: Count
    viewers: Count
    heartbeat_age: Seconds
    addr: Address | None = None
    metrics: Address | None = None
    container: Name | None = None
    turbo_viewers: Count = 0
    turbo_bytes: Count = 0


@record
class BroadcastRow(Record):
    """A live broadcast; operators also see where it is (``slave``, ``addr``), users how
    they may watch it (``access``: admit, or ask the broadcaster)."""

    user: UserName
    viewers: Count
    slave: Name | None = None
    addr: Address | None = None
    confirmed: Flag | None = None
    age: Seconds | None = None
    access: Name | None = None


@record
class RelayRow(Record):
    """One node of a broadcast's relay tree (C10): its origin (``upstream`` empty, depth 0)
    or a relay pulling from ``upstream``; ``viewers`` of that broadcast on that node."""

    user: UserName
    slave: Name
    upstream: Name
    depth: Count
    viewers: Count


@control(T.STATUS)
class Status(Control):
    masters: Annotated[tuple[MasterRow, ...], records(MasterRow)] = ()
    slaves: Annotated[tuple[SlaveRow, ...], records(SlaveRow)] = ()
    broadcasts: Annotated[tuple[BroadcastRow, ...], records(BroadcastRow)] = ()
    relays: Annotated[tuple[RelayRow, ...], records(RelayRow)] = ()


class OperatorCommand(enum.StrEnum):
    DRAIN = "drain"
    UNDRAIN = "undrain"
    REBALANCE = "rebalance"


@control(T.OPERATOR_REQUEST)
class OperatorRequest(Control):
    """An operator command, proven with the cluster secret; ``deadline`` (seconds) for drain."""

    command: Annotated[OperatorCommand, Check(one_of(OperatorCommand), ErrorCode.BAD_COMMAND)]
    proof: Proof
    slave: Name | None = None
    deadline: (
        Annotated[float, Check(number(0.001, 86400.0, "deadline must be a positive number of seconds"))] | None
    ) = None


@control(T.SLAVE_CHANGED)
class SlaveChanged(Control):
    """The answer to drain and undrain."""

    slave: Name
    addr: Address
    state: State


@record
class Move(Record):
    user: UserName
    source: Name
    destination: Name


@control(T.REBALANCE_PLAN)
class RebalancePlan(Control):
    moves: Annotated[tuple[Move, ...], records(Move)] = ()
