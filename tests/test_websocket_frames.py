"""The binary WebSocket messages a server sends the page (RFC 6455, section 5.2): the three
length forms, no mask, and one message built for a frame every viewer gets."""

import pytest

from common.websocket import binary_message, lone_small_message


def parse(message: bytes) -> bytes:
    assert message[0] == 0x82, "FIN and opcode 2 (binary)"
    assert not message[1] & 0x80, "a server never masks"
    size, at = message[1] & 0x7F, 2
    if size == 126:
        size, at = int.from_bytes(message[2:4], "big"), 4
    elif size == 127:
        size, at = int.from_bytes(message[2:10], "big"), 10
    assert len(message) == at + size
    return message[at:]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
def test_each_length_form_carries_the_payload_whole(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert parse(binary_message(payload)) == payload


def test_a_frame_for_many_viewers_is_framed_once():
    frame = b"f" * 50_000
    assert binary_message(frame) is binary_message(frame)
    assert binary_message(b"f" * 50_000) is not binary_message(frame), "by identity, not by value"


def masked(payload: bytes, opcode: int = 0x2, mask: bytes = b"\x11\x22\x33\x44") -> bytes:
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + body


@pytest.mark.parametrize("payload", [b"", b"a", b"an ACK of 18 bytes", bytes(range(125))])
def test_a_lone_small_client_message_is_unmasked_whole(payload):
    assert lone_small_message(masked(payload)) == payload


@pytest.mark.parametrize(
    "data",
    [
        masked(b"text", opcode=0x1),  # text: autobahn refuses it
        masked(b"ping", opcode=0x9),
        masked(b"two messages") + masked(b"at once"),
        masked(b"cut short")[:-1],
        bytes((0x82, 4)) + b"mask",  # unmasked: a protocol error for autobahn to answer
        bytes((0x02, 0x84)) + b"\x00" * 8,  # not final
    ],
)
def test_anything_else_is_left_to_autobahn(data):
    assert lone_small_message(data) is None
