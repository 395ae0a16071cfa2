"""The masters' slave port (master/ports/slave_port.py) before a slave's hello, on an in-memory
transport: the guarded limits of the client ports (a small first message that must be the
hello, within 10 s), and a real slave's hello with its session table right behind it."""

from __future__ import annotations

import time

import pytest
from twisted.internet.testing import StringTransport

from common.errors import ErrorCode, ProtocolError
from common.messages import parse
from common.messages.cluster import SlaveHello
from common.messaging import AUTH_TIMEOUT, PRE_AUTH_MAX_BODY
from common.protocol import DEFAULT_MAX_BODY, Decoder, MessageType, encode
from common.signing import Signer
from common.tokens import SlaveProof
from master.ports.slave_port import HelloFirstDecoder, SlaveLinkProtocol, SlaveServices
from master.services.slave_links import SlaveLinks
from master.storage.memory_store import MemoryStore
from tests.test_master_logic import clock_at

SIGNER = Signer("s3cret")
UNKNOWN = 250  # a message type no one handles: the body size is all that matters here


def connected():
    """A link to a master's slave port; the links it joins, on a clock that reads now (the
    hello's proof is signed now)."""
    clock, transport = clock_at(time.time()), StringTransport()
    links = SlaveLinks(MemoryStore(), SIGNER, "m1", clock)
    link = SlaveLinkProtocol(SlaveServices(links, registry=None, relays=None), clock)
    link.makeConnection(transport)
    return link, transport, clock, links


def errors(transport) -> list[ErrorCode]:
    return [parse(message).code for message in Decoder().feed(transport.value())]


def hello(slave: str = "slave-1", proof_for: str = "slave-1") -> bytes:
    return SlaveHello(slave, "127.0.0.1:5301", SIGNER.sign(SlaveProof(proof_for))).encode()


def test_a_large_message_before_the_hello_is_refused():
    link, transport, _, _ = connected()
    link.dataReceived(encode(MessageType.SLAVE_HELLO, b"x" * (PRE_AUTH_MAX_BODY + 1))[:1000])
    assert errors(transport) == [ErrorCode.TOO_LARGE] and transport.disconnecting


def test_a_connection_without_a_hello_is_cut_after_10_s():
    link, transport, clock, _ = connected()
    link.dataReceived(b"FC")  # a byte now and then changes nothing
    clock.advance(AUTH_TIMEOUT)
    assert errors(transport) == [ErrorCode.TIMEOUT] and transport.disconnecting


def test_anything_but_a_hello_first_is_refused():
    link, transport, _, _ = connected()
    link.dataReceived(encode(UNKNOWN, b"x"))
    assert errors(transport) == [ErrorCode.HELLO_FIRST] and transport.disconnecting


def test_a_hello_with_a_bad_proof_is_refused():
    link, transport, _, links = connected()
    link.dataReceived(hello("slave-1", proof_for="slave-2"))
    assert errors(transport) == [ErrorCode.BAD_PROOF] and links.local == {}


def test_a_slave_joins_and_then_has_the_full_size_and_no_deadline():
    link, transport, clock, links = connected()
    link.dataReceived(hello())
    assert list(links.local) == ["slave-1"] and link.is_authenticated
    clock.advance(AUTH_TIMEOUT * 2)
    assert not transport.disconnecting and link.decoder.max_body == DEFAULT_MAX_BODY


def test_the_messages_behind_a_hello_get_the_full_size():
    decoder = HelloFirstDecoder(DEFAULT_MAX_BODY)
    table = encode(UNKNOWN, b"t" * (PRE_AUTH_MAX_BODY * 2))  # a big session table
    assert [m.type for m in decoder.feed(hello() + table)] == [MessageType.SLAVE_HELLO, UNKNOWN]
    with pytest.raises(ProtocolError):
        list(HelloFirstDecoder(DEFAULT_MAX_BODY).feed(table))
