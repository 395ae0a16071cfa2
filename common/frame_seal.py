"""Sealed frames: a frame encrypted once and signed once, the same bytes for every viewer
(issue 23; the idea of SFrame, RFC 9605).

The slave seals each frame of a broadcast with the broadcast's current key (AES-256-GCM)
and signs it with its own Ed25519 key; every native viewer of the broadcast receives those
same bytes on a plain data connection, through the plain direct writer. A viewer gets the
frame key, the slave's public key and its own acknowledgement key over its TLS connection
(``common.messages.sealing``). The key changes whenever a viewer joins or leaves, before
the next frame is sent, so nobody gone can read what follows (README, "Encryption").

A SEALED_FRAME body::

    key_id u32 | nonce 12 | AES-GCM(frame body, aad=key_id) with its 16-byte tag | signature 64

The signature covers SHA-256 of everything before it: a viewer holds the frame key, so the
tag alone proves nothing to it about who wrote the frame; the signature does. A SEALED_ACK
body is the sequence number and its 16-byte MAC under the viewer's acknowledgement key
(keyed BLAKE2s, RFC 7693: a third of HMAC-SHA256's cost here, on the slave's busiest input
path), so nobody on the path acknowledges frames for a viewer.

This module is pure: bytes in, bytes out; the keys are ``cryptography``'s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from common.protocol import ACK_BODY, HEADER, MAGIC, PROTOCOL_VERSION, MessageType, encode

KEY_ID = struct.Struct("!I")
NONCE = 12
TAG = 16
SIGNATURE = 64
ACK_MAC = 16
SEALED_OVERHEAD = KEY_ID.size + NONCE + TAG + SIGNATURE
SEALED_ACK_BODY = ACK_BODY.size + ACK_MAC
SEALED_ACK_HEADER = HEADER.pack(MAGIC, PROTOCOL_VERSION, MessageType.SEALED_ACK, 0, SEALED_ACK_BODY)
SEALED_ACK_SIZE = HEADER.size + SEALED_ACK_BODY
KEEP_KEYS = 4  # frame keys a viewer keeps: a frame sealed before a change may still arrive


class SealError(Exception):
    """A sealed frame that is not what the slave sent (or not for this viewer)."""


class UnknownKey(SealError):
    """Sealed with a key this viewer was not given (yet: it travels on the other connection)."""


def to_text(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def from_text(text: str, size: int) -> bytes:
    """A key as the wire carries it; ``SealError`` unless it is ``size`` bytes."""
    try:
        key = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeError):
        raise SealError("a key that is not base64") from None
    if len(key) != size:
        raise SealError(f"a key of {len(key)} bytes, not {size}")
    return key


def public_bytes(signing_key: Ed25519PrivateKey) -> bytes:
    return signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def new_ack_key() -> bytes:
    return os.urandom(32)


class FrameSealer:
    """One broadcast's frame key on a slave, and the sealing of its frames."""

    def __init__(self, signing_key: Ed25519PrivateKey):
        self.signing_key = signing_key
        self.key_id = 0
        self.key = b""
        self._aead: AESGCM | None = None
        self.rotate()

    def rotate(self) -> None:
        """A new frame key: frames sealed from now on need it."""
        self.key_id = (self.key_id + 1) & 0xFFFFFFFF
        self.key = AESGCM.generate_key(256)
        self._aead = AESGCM(self.key)

    def seal(self, frame_body: bytes) -> bytes:
        """The whole SEALED_FRAME message of one FRAME body."""
        key_id = KEY_ID.pack(self.key_id)
        nonce = os.urandom(NONCE)  # random: at 15 fps a key seals far fewer than 2^32 frames
        sealed = key_id + nonce + self._aead.encrypt(nonce, frame_body, key_id)
        signature = self.signing_key.sign(hashlib.sha256(sealed).digest())
        return encode(MessageType.SEALED_FRAME, sealed + signature)


class FrameOpener:
    """A viewer's side: the slave's public key and the frame keys it was given."""

    def __init__(self, public_key: bytes):
        self.public_key = Ed25519PublicKey.from_public_bytes(public_key)
        self.keys: dict[int, AESGCM] = {}

    def add_key(self, key_id: int, key: bytes) -> None:
        self.keys[key_id] = AESGCM(key)
        while len(self.keys) > KEEP_KEYS:
            del self.keys[next(iter(self.keys))]  # the one given longest ago

    def key_of(self, body: bytes) -> int:
        if len(body) < SEALED_OVERHEAD:
            raise SealError(f"a sealed frame of {len(body)} bytes is shorter than its envelope")
        return KEY_ID.unpack_from(body)[0]

    def open(self, body: bytes, check_signature: bool = True) -> bytes:
        """The FRAME body inside a SEALED_FRAME body; ``SealError`` if anything is off.
        ``check_signature``: False only where the signature was checked on a sample (bench)."""
        key_id = self.key_of(body)
        aead = self.keys.get(key_id)
        if aead is None:
            raise UnknownKey(f"sealed with key {key_id}, which this viewer does not hold")
        sealed, signature = memoryview(body)[:-SIGNATURE], bytes(body[-SIGNATURE:])
        if check_signature:
            try:
                self.public_key.verify(signature, hashlib.sha256(sealed).digest())
            except InvalidSignature:
                raise SealError("a sealed frame the slave did not sign") from None
        start = KEY_ID.size + NONCE
        try:
            return aead.decrypt(sealed[KEY_ID.size : start], sealed[start:], sealed[: KEY_ID.size])
        except InvalidTag:
            raise SealError("a sealed frame that does not decrypt with its key") from None


def _ack_mac(key: bytes, seq_bytes: bytes) -> bytes:
    return hashlib.blake2s(seq_bytes, key=key, digest_size=ACK_MAC).digest()


def encode_sealed_ack(key: bytes, seq: int) -> bytes:
    seq_bytes = ACK_BODY.pack(seq)
    return SEALED_ACK_HEADER + seq_bytes + _ack_mac(key, seq_bytes)


def check_sealed_ack(key: bytes, body: bytes) -> int | None:
    """The sequence number a SEALED_ACK body acknowledges, or None if its MAC is wrong."""
    if len(body) != SEALED_ACK_BODY:
        return None
    seq_bytes = body[: ACK_BODY.size]
    if not hmac.compare_digest(_ack_mac(key, seq_bytes), body[ACK_BODY.size :]):
        return None
    return ACK_BODY.unpack(seq_bytes)[0]


def lone_sealed_ack(key: bytes, data: bytes) -> int | None:
    """The data connection's fast path: ``data`` is exactly one SEALED_ACK with a good MAC."""
    if len(data) == SEALED_ACK_SIZE and data[: HEADER.size] == SEALED_ACK_HEADER:
        return check_sealed_ack(key, data[HEADER.size :])
    return None
