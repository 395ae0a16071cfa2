"""The wire protocol: round trips, incremental parsing and malformed input (S1)."""

import struct

import pytest
from hypothesis import given, strategies as st

from common.errors import ProtocolError
from common.protocol import (
    HEADER,
    MAGIC,
    Codec,
    Decoder,
    FrameInfo,
    MessageType,
    decode_ack,
    decode_frame,
    encode,
    encode_ack,
    encode_frame,
    frame_seq_and_time,
    known_type,
    lone_ack,
)

bodies = st.binary(max_size=4096)
types = st.integers(min_value=0, max_value=255)


@given(st.lists(st.tuples(types, st.integers(0, 65535), bodies), max_size=20), st.integers(1, 64))
def test_messages_round_trip_whatever_the_chunking(messages, chunk):
    stream = b"".join(encode(t, b, f) for t, f, b in messages)
    decoder = Decoder()
    parsed = []
    for i in range(0, len(stream), chunk):
        parsed.extend(decoder.feed(stream[i : i + chunk]))
    assert [(m.type, m.flags, m.body) for m in parsed] == messages


@given(st.integers(0, 2**64 - 1), st.floats(0, 4e9), st.integers(1, 65535), st.integers(1, 65535), bodies)
def test_frame_round_trip(seq, capture_time, width, height, image):
    info = FrameInfo(seq, capture_time, width, height, Codec.JPEG)
    (message,) = Decoder().feed(encode_frame(info, image))
    assert message.type == MessageType.FRAME
    decoded, data = decode_frame(message.body)
    assert decoded == info and bytes(data) == image


def test_ack_round_trip_and_bad_ack():
    (message,) = Decoder().feed(encode_ack(42))
    assert decode_ack(message.body) == 42
    with pytest.raises(ProtocolError):
        decode_ack(b"\x00")


def test_the_ack_fast_path_recognises_exactly_one_ack():
    assert lone_ack(encode_ack(7)) == 7
    assert lone_ack(encode_ack(7) + encode_ack(8)) is None
    assert lone_ack(encode(MessageType.OK, b"12345678")) is None


def test_frame_seq_and_time_reads_the_header_only():
    body = encode_frame(FrameInfo(9, 123.5, 4, 4, Codec.JPEG), b"image")[HEADER.size :]
    assert frame_seq_and_time(body) == (9, 123.5)
    with pytest.raises(ProtocolError):
        frame_seq_and_time(b"short")


def test_short_frame_is_rejected():
    with pytest.raises(ProtocolError):
        decode_frame(b"short")


def test_bad_magic_is_rejected():
    with pytest.raises(ProtocolError) as info:
        list(Decoder().feed(b"GET / HTTP/1.1\r\n\r\n"))
    assert info.value.code == "bad_magic"


def test_bad_version_is_rejected():
    with pytest.raises(ProtocolError) as info:
        list(Decoder().feed(HEADER.pack(MAGIC, 99, 1, 0, 0)))
    assert info.value.code == "bad_version"


def test_oversized_length_is_rejected_before_the_body_arrives():
    header = HEADER.pack(MAGIC, 1, MessageType.FRAME, 0, 2**31)
    with pytest.raises(ProtocolError) as info:
        list(Decoder(max_body=1024).feed(header))
    assert info.value.code == "too_large"


@given(st.binary(min_size=HEADER.size, max_size=512))
def test_random_bytes_never_crash_the_decoder(data):
    decoder = Decoder(max_body=1024)
    try:
        for message in decoder.feed(data):
            assert len(message.body) <= 1024
    except ProtocolError as exc:
        assert exc.code in {"bad_magic", "bad_version", "too_large"}


def test_unknown_types_are_parsed_so_they_can_be_skipped():
    stream = encode(200, b"future stuff") + encode(MessageType.OK, b"{}")
    parsed = list(Decoder().feed(stream))
    assert [m.type for m in parsed] == [200, MessageType.OK]
    assert not known_type(200) and known_type(MessageType.OK)


def test_header_layout_is_as_documented():
    assert HEADER.size == 10
    assert encode(MessageType.OK, b"xy")[:10] == b"FC" + struct.pack("!BBHI", 1, MessageType.OK, 0, 2)
