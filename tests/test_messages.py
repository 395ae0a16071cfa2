"""Typed control messages: every registered message round-trips, and validation lives in
one place (names matched whole, finite bounded numbers, bounded nesting)."""

import dataclasses
import json
import typing

import pytest
from hypothesis import given, settings, strategies as st

from common.errors import ErrorCode, ProtocolError, RequestError
from common.messages import fields as F, parse
from common.messages.accounts import OperatorRequest, ViewRequest
from common.messages.schema import REGISTRY, Control, Record
from common.messages.chat import Asking, ClientId, LineText, MessageText, Recipient
from common.messages.sealing import Key
from common.messages.social import RoomName
from common.frame_seal import to_text
from common.prefs import ROOM_NAME
from common.turbo import Candidates, Fingerprint, Hosts
from common.protocol import Decoder, MessageType, encode


def texts(**sizes):
    """Text as the fields take it: anything but NUL, which no text field accepts."""
    return st.text(st.characters(codec="utf-8", blacklist_characters="\x00"), **sizes)


CHECKED = {
    F.UserName: st.from_regex(F.USER_NAME, fullmatch=True),
    F.Password: texts(min_size=1, max_size=40),
    F.NewPassword: texts(min_size=F.MIN_PASSWORD, max_size=40),
    F.SessionId: st.from_regex(F.SESSION_ID, fullmatch=True),
    F.Token: texts(max_size=60),
    F.Ticket: texts(max_size=60),
    F.Proof: texts(max_size=60),
    F.Name: texts(max_size=30),
    F.Address: texts(max_size=30),
    F.Text: texts(max_size=200),
    F.Kbps: st.floats(0, 1e9),
    F.Seconds: st.floats(0, 1e6),
    F.Time: st.floats(0, 1e11),
    F.Count: st.integers(0, 2**53),
    F.Flag: st.booleans(),
    RoomName: st.from_regex(ROOM_NAME, fullmatch=True),
    Recipient: st.from_regex(F.USER_NAME, fullmatch=True) | st.from_regex(ROOM_NAME, fullmatch=True),
    MessageText: texts(min_size=1, max_size=200).filter(str.strip),
    LineText: texts(max_size=200),
    ClientId: texts(max_size=64),
    Asking: st.lists(st.from_regex(F.USER_NAME, fullmatch=True), max_size=4).map(tuple),
    Candidates: st.lists(st.ip_addresses(v=4).map(lambda ip: f"{ip}:4000"), max_size=8).map(tuple),
    Hosts: st.lists(st.ip_addresses(v=4).map(str), max_size=8).map(tuple),
    Fingerprint: st.just("") | st.binary(min_size=32, max_size=32).map(bytes.hex),
    Key: st.binary(min_size=32, max_size=32).map(to_text),
}


def strategy_for(annotation):
    """A strategy for a field's annotation: its checked type, an enum, records or None."""
    if typing.get_origin(annotation) is typing.Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return st.none() | strategy_for(inner[0])
    for checked, strategy in CHECKED.items():
        if annotation == checked:
            return strategy
    base = typing.get_args(annotation)[0]
    if isinstance(base, type) and issubclass(base, Record):
        return record_strategy(base)
    if isinstance(base, type) and issubclass(base, str) and base is not str:  # a StrEnum
        return st.sampled_from(list(base))
    if typing.get_origin(base) is tuple:
        return st.lists(record_strategy(typing.get_args(base)[0]), max_size=3).map(tuple)
    if base is float:
        return st.floats(0.001, 86400)
    raise AssertionError(f"no strategy for {annotation}")


def record_strategy(cls):
    hints = typing.get_type_hints(cls, include_extras=True)
    return st.builds(cls, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)})


CONTROLS = sorted(
    (cls for cls in REGISTRY.values() if isinstance(cls, type) and issubclass(cls, Control)), key=lambda c: c.TYPE
)


@pytest.mark.parametrize("cls", CONTROLS, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_message_round_trips(cls, data):
    message = data.draw(record_strategy(cls))
    (raw,) = Decoder().feed(message.encode())
    assert raw.type == cls.TYPE
    assert parse(raw) == message


def body(**fields):
    return list(Decoder().feed(encode(MessageType.VIEW_REQUEST, json.dumps(fields).encode())))[0]


@pytest.mark.parametrize("target", ["alice\n", "", "a" * 33, "bad name", 42, None])
def test_user_names_are_matched_whole(target):
    with pytest.raises(RequestError) as info:
        parse(body(token="t", target=target))
    assert info.value.code in (ErrorCode.BAD_USER, ErrorCode.BAD_REQUEST) or target is None


@pytest.mark.parametrize("speed", [float("nan"), float("inf"), 10**400, -1, True, "fast"])
def test_numbers_must_be_finite_and_in_range(speed):
    raw = encode(
        MessageType.VIEW_REQUEST, b'{"token":"t","target":"alice","speed_kbps":' + json.dumps(speed).encode() + b"}"
    )
    with pytest.raises(RequestError) as info:
        parse(next(Decoder().feed(raw)))
    assert info.value.code == ErrorCode.BAD_SPEED


@pytest.mark.parametrize("deadline", [float("nan"), float("inf"), 0, -5])
def test_a_drain_deadline_must_be_a_positive_finite_number(deadline):
    with pytest.raises(RequestError, match="deadline"):
        OperatorRequest.from_fields({"command": "drain", "proof": "p", "deadline": deadline})


@pytest.mark.parametrize("depth", [9, 1000, 100_000])
def test_deep_nesting_is_a_clear_protocol_error(depth):
    nested = b'{"token":"t","target":"alice","x":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ProtocolError) as info:
        parse(next(Decoder().feed(encode(MessageType.VIEW_REQUEST, nested))))
    assert info.value.code == ErrorCode.BAD_JSON


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"not json", b"[1, 2]"])
def test_malformed_json_is_a_protocol_error(raw):
    with pytest.raises(ProtocolError) as info:
        parse(next(Decoder().feed(encode(MessageType.LOGIN, raw))))
    assert info.value.code == ErrorCode.BAD_JSON


def test_unknown_fields_are_ignored_and_missing_ones_named():
    assert parse(body(token="t", target="alice", future=1)) == ViewRequest("t", "alice")
    with pytest.raises(RequestError, match="target is required"):
        parse(body(token="t"))


def test_unknown_types_parse_to_nothing():
    assert parse(next(Decoder().feed(encode(250, b"anything")))) is None


def test_every_field_has_a_checked_type():
    for cls in CONTROLS:
        assert all(spec.check is not None for spec in cls._specs)
    assert issubclass(Control, Record)


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "hello\x00world", "client_id": "c1"},
        {"text": "hello", "client_id": "c\x001"},
        {"text": "lone \udcff surrogate", "client_id": "c1"},
    ],
)
def test_a_nul_or_a_lone_surrogate_in_a_message_is_a_bad_field_not_an_internal_error(fields):
    """PostgreSQL's text holds neither: they are refused with the field named, before any
    handler sees them."""
    raw = encode(MessageType.MSG_SEND, json.dumps({"token": "t", "to": "bob", **fields}).encode())
    with pytest.raises(RequestError) as info:
        parse(next(Decoder().feed(raw)))
    assert info.value.code != ErrorCode.INTERNAL
    assert any(word in info.value.message for word in ("NUL", "surrogate", "client_id"))
