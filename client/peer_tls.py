"""TLS on turbo mode's peer link, as WebRTC does it: the broadcaster makes a certificate of
its own for the broadcast (no CA could vouch for a user's machine), and its fingerprint
travels to the viewer the way the candidates do, signed by a master in the broadcast
ticket and handed over by the slave in TURBO_OFFER, on connections that are themselves
verified. The viewer accepts the link only if the certificate it is shown has that
fingerprint, so images between the two are encrypted and a stranger cannot pose as the
broadcaster.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import ssl
import tempfile
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization

from common.tls import pem_key, self_signed


def fingerprint(der: bytes) -> str:
    """The SHA-256 of a certificate (DER), in hex: what TURBO_OFFER carries."""
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class PeerIdentity:
    context: ssl.SSLContext  # the broadcaster's server side of the peer link
    fingerprint: str


def make_identity() -> PeerIdentity:
    """A key and a self-signed certificate for one broadcast, and the context serving them."""
    cert, key = self_signed("framecast turbo peer", datetime.timedelta(days=2))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # ssl loads a key only from a file: a private folder of our own, gone at once.
    with tempfile.TemporaryDirectory(prefix="framecast-peer-") as folder:
        path = os.path.join(folder, "peer.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(cert.public_bytes(serialization.Encoding.PEM) + pem_key(key))
        context.load_cert_chain(path)
    return PeerIdentity(context, fingerprint(cert.public_bytes(serialization.Encoding.DER)))


def pinned_context() -> ssl.SSLContext:
    """The viewer's side: no CA to check against; the fingerprint is checked instead
    (``Connection(..., pin=...)``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
