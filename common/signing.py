"""Signing and checking credentials with one key (feature U2): a ``Credential`` is a typed
record that says its kind and how long it lives; a ``CredentialSigner`` signs it under a
salt of its kind, so one kind can never be replayed as another. ``Signer`` is HMAC with a
shared secret; ``TicketSigner`` is Ed25519, so whoever holds only the public key can check
but not make. ``common.tokens`` names the kinds and which node holds which key.

Signing comes from itsdangerous (Ed25519 through ``cryptography``, as an itsdangerous
signing algorithm); expiry is checked here, with ``CLOCK_SKEW`` seconds of tolerance either
way, since the node that signs and the node that checks have clocks of their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.signer import SigningAlgorithm

from common.errors import RequestError
from common.messages.schema import Record


class CredentialError(Exception):
    """A token, ticket or proof is forged, malformed or expired; ``str()`` says which."""


class Credential(Record):
    __slots__ = ()
    KIND: ClassVar[str]  # names it in messages and salts its signature
    MAX_AGE: ClassVar[float | None] = None  # seconds it lives at most (None: the signer's ticket_ttl)
    LOGIN: ClassVar[bool] = False  # a login: lives the signer's token_ttl; once expired, its user logs in again


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
            hint = "; log in again" if kind.LOGIN else ""
            raise CredentialError(f"{what} has expired{hint}")
        if not isinstance(claims, dict):
            raise CredentialError(f"invalid {what}")
        try:
            return kind.from_fields(claims)
        except RequestError:
            raise CredentialError(f"invalid {what}") from None

    def lifetime(self, kind: type[Credential]) -> float:
        return self.token_ttl if kind.LOGIN else kind.MAX_AGE or self.ticket_ttl

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
