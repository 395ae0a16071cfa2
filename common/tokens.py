"""Signed, expiring credentials that only the servers can check (feature U2).

Every kind of credential is a typed record signed under a salt of its own, so one kind can
never be replayed as another, and with the key of whoever must be able to make it
(``common.keys`` derives them all from the cluster secret, ``FRAMECAST_SECRET``):

* ``LoginClaims``, given to a user at login (the service level rides along, so viewing
  needs no database lookup; a change applies from the next login); lives for hours;
* ``PlayerClaims``, a short-lived token a user asks for to put in a player's URL (the
  masters' web fronts only, never a login); lives as long as asked, at most a day.
  Both are HMAC with the cluster secret, which only masters hold, and carry the user's
  token ``epoch``: ``logout --everywhere`` moves it on, and masters refuse a token of an
  earlier epoch (``master/services/accounts.py``);
* ``BroadcastTicket`` and ``ViewTicket``, given by a master with a redirect: they name the
  slave chosen, the user and what they may do there, so a slave can check "a master placed
  you here" without asking a master; they live for seconds; Ed25519, so slaves, which hold
  only the public key, can check them but not make them;
* ``RelayTicket``, signed by a relay slave to pull a broadcast from another slave, and
  ``SlaveProof``, sent by a slave when it joins a master: HMAC with the slave key;
* ``OperatorProof``, sent with drain, undrain and rebalance: operators are whoever holds
  the cluster secret (the same trust as running a master); HMAC with the cluster secret.

``NodeKeys`` is what one node holds: masters every key, slaves only theirs
(``NodeKeys.for_slave``). Signing comes from itsdangerous (Ed25519 through
``cryptography``, as an itsdangerous signing algorithm); expiry is checked here, with
``CLOCK_SKEW`` seconds of tolerance either way, since the node that signs and the node that
checks have clocks of their own.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.signer import SigningAlgorithm

from common import keys
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
    """Lets ``viewer`` take images straight from the broadcaster as ``peer`` (its viewer
    session's name on the peer link, ``common.turbo.peer_id``), at most ``cap_kbps``.
    Signed by a slave with the turbo key it drew for this broadcast
    (``common.turbo.new_turbo_key``), which only that broadcaster holds; no session id is
    in it, so its readable payload gives nobody a key or a session to claim."""

    KIND = "peer ticket"
    viewer: UserName
    peer: Name
    cap_kbps: Kbps | None = None


@record
class RelayTicket(Credential):
    """Lets slave ``relay`` pull ``target``'s broadcast from slave ``slave``. Signed by the
    relay slave itself with the slave key (slave-to-slave trust)."""

    KIND = "relay ticket"
    target: UserName
    slave: Name
    relay: Name


@record
class SlaveProof(Credential):
    """Sent by slave ``slave`` when it joins a master, signed with the slave key."""

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


class CredentialSigner(ABC):
    """Signs and checks credentials with one key; the subclasses say which kind of key."""

    def __init__(self, token_ttl: float = 12 * 3600, ticket_ttl: float = 30):
        self.token_ttl = token_ttl
        self.ticket_ttl = ticket_ttl
        self._serializers: dict[type, URLSafeTimedSerializer] = {}

    def sign(self, credential: Credential) -> str:
        return self._serializer(type(credential)).dumps(credential.fields())

    def check(self, value: Any, kind: type[C], now: float) -> C:
        """The credential ``value`` carries, if it is a valid ``kind``, unexpired at ``now``
        (epoch seconds: the checking node's clock)."""
        what = kind.KIND
        if not isinstance(value, str) or not value:
            raise CredentialError(f"missing {what}")
        try:
            claims, signed_at = self._serializer(kind).loads(value, return_timestamp=True)
        except BadSignature:
            raise CredentialError(f"invalid {what}") from None
        age = now - signed_at.timestamp()
        if not -CLOCK_SKEW <= age <= self.lifetime(kind) + CLOCK_SKEW:
            hint = "; log in again" if kind is LoginClaims else ""
            raise CredentialError(f"{what} has expired{hint}")
        if not isinstance(claims, dict):
            raise CredentialError(f"invalid {what}")
        try:
            return kind.from_fields(claims)
        except RequestError:
            raise CredentialError(f"invalid {what}") from None

    def lifetime(self, kind: type[Credential]) -> float:
        return self.token_ttl if kind is LoginClaims else kind.MAX_AGE or self.ticket_ttl

    def kept_for(self, kind: type[Credential]) -> float:
        """How long a ``kind`` that passes a check now may go on passing: signed by a clock
        ``CLOCK_SKEW`` ahead of ours, it lives its lifetime plus ``CLOCK_SKEW`` from there.
        A single-use nonce is remembered this long."""
        return self.lifetime(kind) + 2 * CLOCK_SKEW

    def _serializer(self, kind: type) -> URLSafeTimedSerializer:
        serializer = self._serializers.get(kind)
        if serializer is None:
            salt = "framecast." + kind.KIND.replace(" ", "-")
            serializer = self._serializers[kind] = self._new_serializer(salt)
        return serializer

    @abstractmethod
    def _new_serializer(self, salt: str) -> URLSafeTimedSerializer:
        """The serializer of one kind of credential (``salt``) with this signer's key."""


class Signer(CredentialSigner):
    """HMAC with a shared ``secret``: whoever checks a credential could also have made it."""

    def __init__(self, secret: str, token_ttl: float = 12 * 3600, ticket_ttl: float = 30):
        if not secret:
            raise ValueError("a shared secret is required (set FRAMECAST_SECRET)")
        super().__init__(token_ttl, ticket_ttl)
        self.secret = secret

    def _new_serializer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt=salt)


class Ed25519Algorithm(SigningAlgorithm):
    """itsdangerous' signing step done with Ed25519. itsdangerous hands it the kind's salt
    as the "key" (key derivation "none"), which is signed along with the value, so one kind
    of ticket still never passes as another. With only the public key it checks, and
    refuses to sign."""

    def __init__(self, key: Ed25519PrivateKey | Ed25519PublicKey):
        self.private = key if isinstance(key, Ed25519PrivateKey) else None
        self.public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        if self.private is None:
            raise TypeError("only masters sign tickets: this node holds the public key alone")
        return self.private.sign(key + b"\0" + value)

    def verify_signature(self, key: bytes, value: bytes, sig: bytes) -> bool:
        try:
            self.public.verify(sig, key + b"\0" + value)
        except InvalidSignature:
            return False
        return True


class TicketSigner(CredentialSigner):
    """Ed25519: masters sign with the private key, slaves check with the public one."""

    def __init__(self, key: Ed25519PrivateKey | Ed25519PublicKey, ticket_ttl: float = 30):
        super().__init__(ticket_ttl=ticket_ttl)
        self.algorithm = Ed25519Algorithm(key)

    def _new_serializer(self, salt: str) -> URLSafeTimedSerializer:
        kwargs = {"key_derivation": "none", "algorithm": self.algorithm}
        return URLSafeTimedSerializer(salt, salt=salt, signer_kwargs=kwargs)


MASTER_TICKETS = (BroadcastTicket, ViewTicket)  # masters sign them for slaves (Ed25519)
SLAVE_SIGNED = (SlaveProof, RelayTicket)  # slaves sign them (HMAC with the slave key)
MASTERS_ONLY = (LoginClaims, PlayerClaims, OperatorProof)  # made and checked by masters (HMAC with the secret)


class NodeKeys:
    """The credentials one node can sign and check, each kind with its own key; asked about
    a kind it holds no key for, it refuses it as invalid.

    ``secret`` is the slave key, the HMAC key of what slaves sign (turbo keys derive from it)."""

    def __init__(self, signers: dict[type, CredentialSigner], secret: str, token_ttl: float, ticket_ttl: float):
        self._signers = signers
        self.secret = secret
        self.token_ttl = token_ttl
        self.ticket_ttl = ticket_ttl

    @classmethod
    def for_master(cls, secret: str, token_ttl: float = 12 * 3600, ticket_ttl: float = 30) -> "NodeKeys":
        """Every key, derived from the cluster secret."""
        cluster = Signer(secret, token_ttl, ticket_ttl)
        tickets = TicketSigner(keys.master_ticket_key(secret), ticket_ttl)
        slave_key = keys.slave_key(secret)
        slaves = Signer(slave_key, ticket_ttl=ticket_ttl)
        signers = {kind: cluster for kind in MASTERS_ONLY}
        signers.update({kind: tickets for kind in MASTER_TICKETS})
        signers.update({kind: slaves for kind in SLAVE_SIGNED})
        return cls(signers, slave_key, token_ttl, ticket_ttl)

    @classmethod
    def for_slave(cls, master_key: Ed25519PublicKey, slave_key: str, ticket_ttl: float = 30) -> "NodeKeys":
        """A slave's: it checks master tickets and signs its own credentials, nothing more."""
        tickets = TicketSigner(master_key, ticket_ttl)
        slaves = Signer(slave_key, ticket_ttl=ticket_ttl)
        signers: dict[type, CredentialSigner] = {kind: tickets for kind in MASTER_TICKETS}
        signers.update({kind: slaves for kind in SLAVE_SIGNED})
        return cls(signers, slave_key, 0.0, ticket_ttl)

    def sign(self, credential: Credential) -> str:
        signer = self._signers.get(type(credential))
        if signer is None:
            raise TypeError(f"this node holds no key to sign a {credential.KIND}")
        return signer.sign(credential)

    def check(self, value: Any, kind: type[C], now: float) -> C:
        signer = self._signers.get(kind)
        if signer is None:
            raise CredentialError(f"invalid {kind.KIND}: this node cannot check one")
        return signer.check(value, kind, now)

    def kept_for(self, kind: type[Credential]) -> float:
        return self._signers[kind].kept_for(kind)
