"""Signed, expiring credentials that only the servers can check (feature U2).

All servers share one secret (``FRAMECAST_SECRET``). Every kind of credential is a typed
record signed with it under a salt of its own, so one kind can never be replayed as another:

* ``LoginClaims``, given to a user at login (the service level rides along, so viewing
  needs no database lookup; a change applies from the next login); lives for hours;
* ``PlayerClaims``, a short-lived token a user asks for to put in a player's URL (the
  masters' web fronts only, never a login); lives as long as asked, at most a day.
  Both carry the user's token ``epoch``: ``logout --everywhere`` moves it on, and masters
  refuse a token of an earlier epoch (``master/accounts.py``);
* ``BroadcastTicket`` and ``ViewTicket``, given by a master with a redirect: they name the
  slave chosen, the user and what they may do there, so a slave can check "a master placed
  you here" without asking a master; they live for seconds;
* ``RelayTicket``, signed by a relay slave to pull a broadcast from another slave;
* ``SlaveProof``, sent by a slave when it joins a master: it holds the secret;
* ``OperatorProof``, sent with drain, undrain and rebalance: operators are whoever holds
  the cluster secret (the same trust as running a node).

Signing comes from itsdangerous; expiry is checked here, with ``CLOCK_SKEW`` seconds of
tolerance either way, since the node that signs and the node that checks have clocks of
their own.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, ClassVar, TypeVar

from itsdangerous import BadSignature, URLSafeTimedSerializer

from common.errors import RequestError
from common.messages.fields import Address, Count, Kbps, Name, SessionId, Time, UserName
from common.messages.schema import Record, record
from common.turbo import Candidates, Fingerprint


class CredentialError(Exception):
    """A token, ticket or proof is forged, malformed or expired; ``str()`` says which."""


class Credential(Record):
    __slots__ = ()
    KIND: ClassVar[str]  # names it in messages and salts its signature
    MAX_AGE: ClassVar[float | None] = None  # seconds it lives at most (None: the signer's ticket_ttl)


@record
class LoginClaims(Credential):
    KIND = "login token"
    user: UserName
    level: Name = "free"
    epoch: Count = 0


@record
class PlayerClaims(Credential):
    """Lets a player (VLC, OBS, ffprobe, an ``<img>``) watch as ``user`` through a master's
    web front until ``expires``; worth nothing on the client port."""

    KIND = "player token"
    MAX_AGE = 24 * 3600.0
    user: UserName
    expires: Time
    level: Name = "free"
    epoch: Count = 0


@record
class BroadcastTicket(Credential):
    """``turbo``: the broadcaster's peer-to-peer candidates (none: no turbo mode), whose
    TLS certificate has ``turbo_fingerprint``; the slave takes each ``nonce`` once (single
    use)."""

    KIND = "broadcast ticket"
    user: UserName
    session: SessionId
    slave: Name
    turbo: Candidates = ()
    nonce: Name = ""
    turbo_fingerprint: Fingerprint = ""


@record
class ViewTicket(Credential):
    """What a viewer may do on ``slave``: watch ``target`` in viewer session ``session``,
    capped at ``cap_kbps``; ``speed_cap`` and ``allowance`` are the inputs of its budget.
    With ``upstream``, ``slave`` relays the broadcast: it pulls it from there (``depth``
    hops from the origin) if it does not have it yet."""

    KIND = "view ticket"
    user: UserName
    target: UserName
    slave: Name
    session: SessionId
    cap_kbps: Kbps | None = None
    speed_cap: Kbps | None = None
    allowance: Kbps | None = None
    upstream: Name = ""  # a relay: the slave to pull ``target`` from, if not pulling yet (C10)
    upstream_addr: Address = ""
    depth: Count = 0


@record
class PeerTicket(Credential):
    """Lets viewer session ``session`` of ``viewer`` take images of broadcast session
    ``broadcast`` straight from the broadcaster, at most ``cap_kbps``. Signed by a slave
    with the broadcast's turbo key (``common.turbo.turbo_key``), which the broadcaster holds."""

    KIND = "peer ticket"
    viewer: UserName
    session: SessionId
    broadcast: SessionId
    cap_kbps: Kbps | None = None


@record
class RelayTicket(Credential):
    """Lets slave ``relay`` pull ``target``'s broadcast from slave ``slave``. Signed by the
    relay slave itself: only the servers hold the secret (slave-to-slave trust)."""

    KIND = "relay ticket"
    target: UserName
    slave: Name
    relay: Name


@record
class SlaveProof(Credential):
    KIND = "slave proof"
    slave: Name


@record
class OperatorProof(Credential):
    """Names the command it proves (drain, undrain, rebalance, or ``STATUS`` for the
    operators' full status) and its ``target`` (the slave of a drain or undrain), so it
    proves nothing else; masters accept each ``nonce`` once (single use)."""

    KIND = "operator proof"
    STATUS = "status"
    command: Name
    target: Name = ""
    nonce: Name = ""

    @classmethod
    def fresh(cls, command: str, target: str | None = None) -> "OperatorProof":
        return cls(command, target or "", secrets.token_urlsafe(12))


C = TypeVar("C", bound=Credential)

# Nodes' clocks may differ by this much: a credential signed up to CLOCK_SKEW seconds "in
# the future" is valid, and each lives CLOCK_SKEW seconds past its lifetime.
CLOCK_SKEW = 5.0


class Signer:
    def __init__(self, secret: str, token_ttl: float = 12 * 3600, ticket_ttl: float = 30):
        if not secret:
            raise ValueError("a shared secret is required (set FRAMECAST_SECRET)")
        self.secret = secret
        self.token_ttl = token_ttl
        self.ticket_ttl = ticket_ttl
        self._serializers: dict[type, URLSafeTimedSerializer] = {}

    def sign(self, credential: Credential) -> str:
        return self._serializer(type(credential)).dumps(credential.fields())

    def check(self, value: Any, kind: type[C]) -> C:
        """The credential ``value`` carries, if it is a valid, unexpired ``kind``."""
        what = kind.KIND
        if not isinstance(value, str) or not value:
            raise CredentialError(f"missing {what}")
        try:
            claims, signed_at = self._serializer(kind).loads(value, return_timestamp=True)
        except BadSignature:
            raise CredentialError(f"invalid {what}") from None
        age = time.time() - signed_at.timestamp()
        lifetime = self.token_ttl if kind is LoginClaims else kind.MAX_AGE or self.ticket_ttl
        if not -CLOCK_SKEW <= age <= lifetime + CLOCK_SKEW:
            hint = "; log in again" if kind is LoginClaims else ""
            raise CredentialError(f"{what} has expired{hint}")
        if not isinstance(claims, dict):
            raise CredentialError(f"invalid {what}")
        try:
            return kind.from_fields(claims)
        except RequestError:
            raise CredentialError(f"invalid {what}") from None

    def _serializer(self, kind: type) -> URLSafeTimedSerializer:
        serializer = self._serializers.get(kind)
        if serializer is None:
            salt = "framecast." + kind.KIND.replace(" ", "-")
            serializer = self._serializers[kind] = URLSafeTimedSerializer(self.secret, salt=salt)
        return serializer
