"""Sealed frames (``common.frame_seal``), the pure part: each claim of the README's threat
model that the bytes alone decide."""

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, strategies as st

from common.frame_seal import (
    KEY_ID,
    NONCE,
    SIGNATURE,
    FrameOpener,
    FrameSealer,
    SealError,
    UnknownKey,
    check_sealed_ack,
    encode_sealed_ack,
    from_text,
    lone_sealed_ack,
    public_bytes,
    to_text,
)
from common.protocol import HEADER, Codec, Decoder, FrameInfo, MessageType, encode_frame

IMAGE = b"\xff\xd8" + os.urandom(4000) + b"\xff\xd9"
BODY = encode_frame(FrameInfo(7, 1.5, 640, 480, Codec.JPEG), IMAGE)[HEADER.size :]


def sealer_and_viewer():
    sealer = FrameSealer(Ed25519PrivateKey.generate())
    viewer = FrameOpener(public_bytes(sealer.signing_key))
    viewer.add_key(sealer.key_id, sealer.key)
    return sealer, viewer


def body_of(wire: bytes) -> bytes:
    (message,) = Decoder().feed(wire)
    assert message.type == MessageType.SEALED_FRAME
    return message.body


def test_a_viewer_with_the_key_opens_the_frame_as_uploaded():
    sealer, viewer = sealer_and_viewer()
    assert viewer.open(body_of(sealer.seal(BODY))) == BODY


def test_an_eavesdropper_sees_no_image_and_cannot_open_it():
    sealer, _ = sealer_and_viewer()
    sealed = body_of(sealer.seal(BODY))
    assert IMAGE[100:132] not in sealed and b"\xff\xd8" + IMAGE[2:34] not in sealed
    stranger = FrameOpener(public_bytes(sealer.signing_key))
    with pytest.raises(UnknownKey):
        stranger.open(sealed)
    stranger.add_key(sealer.key_id, AESGCM.generate_key(256))  # a guessed key of the right id
    with pytest.raises(SealError, match="does not decrypt"):
        stranger.open(sealed)


def test_the_same_frame_sealed_twice_differs_nonces_are_fresh():
    sealer, viewer = sealer_and_viewer()
    first, second = body_of(sealer.seal(BODY)), body_of(sealer.seal(BODY))
    assert first[KEY_ID.size : KEY_ID.size + NONCE] != second[KEY_ID.size : KEY_ID.size + NONCE]
    assert viewer.open(first) == viewer.open(second) == BODY


def test_a_current_viewer_cannot_forge_a_frame_for_the_others():
    """It holds the frame key, so it can encrypt anything: the slave's signature is what the
    others check, and it cannot make one."""
    sealer, viewer = sealer_and_viewer()
    sealed = body_of(sealer.seal(BODY))
    key_id, nonce = sealed[: KEY_ID.size], os.urandom(NONCE)
    forged_body = BODY[:21] + b"\xff\xd8 not what alice filmed"
    forged = key_id + nonce + AESGCM(sealer.key).encrypt(nonce, forged_body, key_id) + sealed[-SIGNATURE:]
    with pytest.raises(SealError, match="did not sign"):
        viewer.open(forged)
    mallory = Ed25519PrivateKey.generate()  # signed by someone else
    with pytest.raises(SealError, match="did not sign"):
        viewer.open(forged[:-SIGNATURE] + mallory.sign(b"anything" * 4))


@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_any_changed_byte_is_refused(position, flip):
    sealer, viewer = sealer_and_viewer()
    sealed = bytearray(body_of(sealer.seal(BODY)))
    position %= len(sealed)
    sealed[position] ^= flip or 1
    with pytest.raises(SealError):
        viewer.open(bytes(sealed))


def test_after_a_key_change_the_old_key_opens_nothing_new():
    """What a viewer that left (or was thrown) holds: the keys before its departure."""
    sealer, former = sealer_and_viewer()
    current = FrameOpener(public_bytes(sealer.signing_key))
    sealer.rotate()
    current.add_key(sealer.key_id, sealer.key)
    sealed = body_of(sealer.seal(BODY))
    assert current.open(sealed) == BODY
    with pytest.raises(UnknownKey):
        former.open(sealed)
    former.keys[sealer.key_id] = next(iter(former.keys.values()))  # the old key under the new id
    with pytest.raises(SealError):
        former.open(sealed)


def test_a_viewer_keeps_a_few_recent_keys_only():
    sealer, viewer = sealer_and_viewer()
    first_id = sealer.key_id
    for _ in range(6):
        sealer.rotate()
        viewer.add_key(sealer.key_id, sealer.key)
    assert first_id not in viewer.keys and sealer.key_id in viewer.keys and len(viewer.keys) == 4


def test_a_short_or_truncated_envelope_is_refused():
    _, viewer = sealer_and_viewer()
    with pytest.raises(SealError, match="shorter"):
        viewer.open(b"\x00" * 20)


def test_acknowledgements_carry_the_viewers_mac():
    key, other = os.urandom(32), os.urandom(32)
    wire = encode_sealed_ack(key, 41)
    assert lone_sealed_ack(key, wire) == 41
    assert lone_sealed_ack(other, wire) is None  # another viewer's key, or a guess
    assert check_sealed_ack(key, wire[HEADER.size :]) == 41
    tampered = wire[: HEADER.size] + (42).to_bytes(8, "big") + wire[HEADER.size + 8 :]
    assert check_sealed_ack(key, tampered[HEADER.size :]) is None
    assert check_sealed_ack(key, b"short") is None


def test_keys_travel_as_base64_of_their_exact_size():
    key = os.urandom(32)
    assert from_text(to_text(key), 32) == key
    with pytest.raises(SealError):
        from_text(to_text(key[:16]), 32)
    with pytest.raises(SealError):
        from_text("not base64 at all!", 32)


def test_a_viewer_refuses_a_replayed_frame():
    """The slave sends each frame once, newest last: one seen again was replayed on the path."""
    from client.data_link import DataLink
    from common.messages.sealing import SealedFrame

    sealer, opener = sealer_and_viewer()
    link = DataLink.__new__(DataLink)
    link.opener, link.last_seq = opener, -1
    first = SealedFrame(body_of(sealer.seal(BODY)))
    assert link.open(first).seq == 7
    with pytest.raises(SealError, match="replay"):
        link.open(first)
