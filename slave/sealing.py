"""Sealed frames on a TLS slave (``common.frame_seal``): each broadcast's frame key, and the
data connections native viewers receive its sealed frames on.

A viewer that asks for sealed frames gets, over TLS, a one-time data token, the slave's
public key and its own acknowledgement key (``Sealing.offer``); its plain data connection
shows the token (``Sealing.claim``). The frame key changes whenever a viewer joins or
leaves, lazily: the first frame sent after the change is sealed with a new key, and every
sealed viewer is told that key over TLS just before (``BroadcastSeal.wire``). So many
viewers arriving or leaving at once cost one change, and nobody who left, or had not yet
come, holds the key of any frame sent while it was not watching.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twisted.internet.interfaces import IReactorTime

from common.errors import ErrorCode, RequestError
from common.frame_seal import FrameSealer, new_ack_key, public_bytes, to_text
from common.messages.sealing import FrameKey, SealKeys
from common.protocol import HEADER

TOKEN_LIFETIME = 10.0  # seconds a viewer has to open its data connection


class BroadcastSeal:
    """One broadcast's frame key and the sealed form of its newest frame."""

    def __init__(self, signing_key: Ed25519PrivateKey, viewers: dict):
        self.sealer = FrameSealer(signing_key)
        self.viewers = viewers  # the broadcast's: peer -> ViewerStream
        self.change_due = True
        self._sealed: tuple[object, int, bytes] = (None, 0, b"")  # frame, key id, wire

    def wire(self, frame) -> bytes:
        """The SEALED_FRAME of ``frame`` under the current key, sealed once for everyone."""
        if self.change_due:
            self._change_key()
        sealed_frame, key_id, wire = self._sealed
        if sealed_frame is not frame or key_id != self.sealer.key_id:
            wire = self.sealer.seal(memoryview(frame.wire)[HEADER.size :])
            self._sealed = (frame, self.sealer.key_id, wire)
        return wire

    def _change_key(self) -> None:
        self.change_due = False
        self._sealed = (None, 0, b"")
        self.sealer.rotate()
        message = FrameKey(self.sealer.key_id, to_text(self.sealer.key))
        for peer, stream in self.viewers.items():
            if stream.sealing is self:
                peer.send(message)


class Sealing:
    """The slave's signing key and the data tokens handed out and not yet shown."""

    def __init__(self, clock: IReactorTime):
        self.clock = clock
        self.signing_key = Ed25519PrivateKey.generate()
        self.public_key = to_text(public_bytes(self.signing_key))
        self._tokens: dict[str, tuple[object, float]] = {}  # token -> (viewer's protocol, until)

    def offer(self, broadcast, stream, viewer) -> SealKeys:
        """``viewer`` (its TLS connection's protocol) will get ``broadcast`` sealed: its keys,
        and a data token for its data connection. Its frames wait for that connection."""
        if broadcast.seal is None:
            broadcast.seal = BroadcastSeal(self.signing_key, broadcast.viewers)
        stream.sealing = broadcast.seal
        stream.writable = False
        broadcast.seal.change_due = True
        viewer.ack_key = new_ack_key()
        now = self.clock.seconds()
        self._tokens = {token: held for token, held in self._tokens.items() if held[1] > now}
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (viewer, now + TOKEN_LIFETIME)
        return SealKeys(token, self.public_key, to_text(viewer.ack_key))

    def claim(self, token: str):
        """The viewer protocol a data token was given to; each token is shown once."""
        viewer, until = self._tokens.pop(token, (None, 0.0))
        if viewer is None or until <= self.clock.seconds():
            raise RequestError(ErrorCode.BAD_TICKET, "unknown or expired data token; start the view again")
        return viewer

    def forget(self, viewer) -> None:
        """A viewer's TLS connection closed before its data connection came."""
        self._tokens = {token: held for token, held in self._tokens.items() if held[0] is not viewer}
