"""The keys masters derive from the cluster secret, and the two a slave is given instead.

Masters hold ``FRAMECAST_SECRET``; from it they derive, each under a label of its own (HKDF
with SHA-256), so that none of them reveals the secret or another key:

* the **master ticket key**, an Ed25519 key pair: masters sign broadcast and view tickets
  with its private half; slaves get only its public half (``FRAMECAST_MASTER_KEY``), so
  they can check a ticket but never make one;
* the **slave key** (``FRAMECAST_SLAVE_KEY``), an HMAC key for what slaves sign themselves:
  the proof with which a slave joins a master, and relay tickets between slaves.

A slave that is taken over therefore yields no key that signs login tokens, operator proofs
(both HMAC with the cluster secret itself) or master tickets. ``framecast slave-keys``
prints a slave's two settings.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_TICKET_LABEL = b"framecast master ticket key (Ed25519)"
SLAVE_KEY_LABEL = b"framecast slave key (HMAC)"


def _derive(secret: str, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret.encode())


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def master_ticket_key(secret: str) -> Ed25519PrivateKey:
    """The private key masters sign tickets for slaves with."""
    return Ed25519PrivateKey.from_private_bytes(_derive(secret, MASTER_TICKET_LABEL))


def slave_key(secret: str) -> str:
    """The HMAC key slaves sign their own credentials with (text, for an environment variable)."""
    return _text(_derive(secret, SLAVE_KEY_LABEL))


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half of ``key`` as a slave is given it (``FRAMECAST_MASTER_KEY``)."""
    return _text(key.public_key().public_bytes_raw())


def load_public_key(text: str) -> Ed25519PublicKey:
    """``FRAMECAST_MASTER_KEY`` read back; ``ValueError`` if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not a master key (run `framecast slave-keys` for the right one)") from None
    if len(raw) != 32:
        raise ValueError("not a master key (run `framecast slave-keys` for the right one)")
    return Ed25519PublicKey.from_public_bytes(raw)


def slave_settings(secret: str) -> dict[str, str]:
    """What a slave of the cluster with ``secret`` is configured with, by variable name."""
    return {
        "FRAMECAST_MASTER_KEY": public_key_text(master_ticket_key(secret)),
        "FRAMECAST_SLAVE_KEY": slave_key(secret),
    }
