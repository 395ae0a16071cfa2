"""The kinds of signed, expiring credential that only the servers can check (feature U2),
and which node holds which key.

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
(``NodeKeys.for_slave``). How one key signs and checks, and expiry, are ``common.signing``'s.
"""

from __future__ import annotations

import secrets
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from common import keys
from common.messages.fields import Address, Count, Kbps, Name, SessionId, Time, UserName
from common.messages.schema import record
from common.signing import Credential, CredentialError, CredentialSigner, Signer, TicketSigner
from common.turbo import Candidates, Fingerprint


@record
class LoginClaims(Credential):
    KIND = "login token"
    LOGIN = True
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
