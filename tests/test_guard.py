"""Limits before and after a client is known (``common.messaging``), on an in-memory
transport: small bodies and one request at a time before, a deadline to show who it is,
no reading while replies cannot be written, and a rejected peer is cut."""

import datetime

from cryptography.hazmat.primitives import serialization
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from common.errors import ErrorCode
from common.messages import parse
from common.messages.accounts import Login, StatusRequest
from common.messages.basic import Ok
from common.messaging import (
    ABORT_AFTER,
    AUTH_TIMEOUT,
    MAX_IN_FLIGHT,
    MAX_UNSENT,
    PRE_AUTH_MAX_BODY,
    MessageProtocol,
    handles,
)
from common.protocol import Decoder, MessageType, encode
from common.tls import pem_key, self_signed, server_factory, server_options


class Guarded(MessageProtocol):
    """Answers STATUS when its Deferred fires; a LOGIN makes it known."""

    handlers: dict = {}
    guarded = True

    def __init__(self):
        self.waiting: list[Deferred] = []

    @handles(handlers, StatusRequest)
    async def status(self, _: StatusRequest) -> None:
        answer = Deferred()
        self.waiting.append(answer)
        await answer
        self.send(Ok("status"))

    @handles(handlers, Login)
    def login(self, _: Login) -> None:
        self.authenticated()


def connected():
    protocol, transport, clock = Guarded(), StringTransport(), Clock()
    protocol.clock = clock
    protocol.makeConnection(transport)
    return protocol, transport, clock


def answers(transport) -> list:
    return [parse(message) for message in Decoder().feed(transport.value())]


def test_a_large_body_before_login_is_refused():
    protocol, transport, _ = connected()
    protocol.dataReceived(encode(MessageType.STATUS_REQUEST, b"x" * (PRE_AUTH_MAX_BODY + 1)))
    (error,) = answers(transport)
    assert error.code == ErrorCode.TOO_LARGE and transport.disconnecting


def test_a_client_that_never_shows_who_it_is_is_cut_then_aborted():
    protocol, transport, clock = connected()
    clock.advance(AUTH_TIMEOUT)
    (error,) = answers(transport)
    assert error.code == ErrorCode.TIMEOUT and transport.disconnecting
    protocol.connected = True  # the peer did not read its error
    transport.abortConnection = lambda: setattr(transport, "aborted", True)
    clock.advance(ABORT_AFTER)
    assert transport.aborted


def test_one_request_at_a_time_before_login_and_no_reading_meanwhile():
    protocol, transport, _ = connected()
    protocol.dataReceived(StatusRequest().encode() * 3)
    assert len(protocol.waiting) == 1 and transport.producerState == "paused"
    protocol.waiting[0].callback(None)
    assert len(protocol.waiting) == 2
    protocol.waiting[1].callback(None)
    protocol.waiting[2].callback(None)
    assert len(answers(transport)) == 3 and transport.producerState == "producing"


def test_a_known_client_has_a_bounded_number_of_open_requests():
    protocol, transport, clock = connected()
    protocol.dataReceived(Login("alice", "password").encode() + StatusRequest().encode() * (MAX_IN_FLIGHT + 2))
    assert len(protocol.waiting) == MAX_IN_FLIGHT and transport.producerState == "paused"
    clock.advance(AUTH_TIMEOUT)
    assert not transport.disconnecting, "a known client has no deadline"
    for answer in list(protocol.waiting):
        answer.callback(None)
    assert len(protocol.waiting) == MAX_IN_FLIGHT + 2


def test_no_reading_while_replies_cannot_be_written():
    protocol, transport, _ = connected()
    protocol.pauseProducing()  # the transport's buffer is full
    assert transport.producerState == "paused"
    protocol.resumeProducing()
    assert transport.producerState == "producing"


def test_a_client_that_reads_nothing_is_cut_once_its_unsent_output_passes_the_bound():
    """The attack: attached sessions that never read, and events pushed to them."""
    protocol, transport, _ = connected()
    protocol.dataReceived(Login("alice", "password").encode())
    aborted = []
    transport.abortConnection = lambda: aborted.append(True) or setattr(transport, "disconnecting", True)
    protocol.pauseProducing()  # the transport's buffer is full: the client reads nothing
    pushed = Ok("x" * 4000)
    for _ in range(2 * MAX_UNSENT // 4000):
        protocol.send(pushed)
    assert aborted, "cut"
    assert len(transport.value()) <= MAX_UNSENT + len(pushed.encode())


def test_a_client_that_reads_again_is_not_cut():
    protocol, transport, _ = connected()
    protocol.dataReceived(Login("alice", "password").encode())
    for _ in range(3):
        protocol.pauseProducing()
        for _ in range(MAX_UNSENT // 4000 - 1):
            protocol.send(Ok("x" * 3900))
        protocol.resumeProducing()  # it read: the count starts again
    assert not transport.disconnecting


def guarded_over_tls(tmp_path):
    """A guarded protocol behind the servers' TLS, with a certificate made in ``tmp_path``."""
    cert, key = self_signed("localhost", datetime.timedelta(days=1))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(pem_key(key))
    inner = Guarded()
    inner.clock = Clock()
    options = server_options(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    tls = server_factory(Factory.forProtocol(lambda: inner), options).buildProtocol(None)
    return inner, tls


def test_the_bound_holds_over_tls_too(tmp_path):
    """TLS passes its transport's "full" on to the protocol, so the same count applies."""
    inner, tls = guarded_over_tls(tmp_path)
    transport = StringTransport()
    tls.makeConnection(transport)
    inner.dataReceived(Login("alice", "password").encode())
    aborted = []
    transport.abortConnection = lambda: aborted.append(True)
    transport.producer.pauseProducing()  # the socket under TLS is full
    for _ in range(2 * MAX_UNSENT // 4000):
        inner.send(Ok("x" * 4000))
    assert aborted


def test_drained_waits_for_the_transport_to_take_more():
    protocol, _, _ = connected()
    assert protocol.drained().called
    protocol.pauseProducing()
    waiting = protocol.drained()
    assert not waiting.called
    protocol.resumeProducing()
    assert waiting.called


def test_a_rejected_tls_peer_that_closes_is_not_aborted_afterwards(tmp_path):
    """Found by the chaos run's fuzzer: a peer rejected over TLS that then closed made the
    delayed abort fail inside Twisted's TLS layer (a traceback in the master's log)."""
    inner, tls = guarded_over_tls(tmp_path)
    tls.makeConnection(StringTransport())
    inner.dataReceived(encode(MessageType.STATUS_REQUEST, b"x" * (PRE_AUTH_MAX_BODY + 1)))
    tls.connectionLost(ConnectionDone())
    inner.clock.advance(ABORT_AFTER)  # raised AttributeError in TLSMemoryBIOProtocol before
    assert not inner.clock.getDelayedCalls()


class ClosingAtOnce(StringTransport):
    """A transport whose loseConnection closes the connection there and then."""

    def loseConnection(self) -> None:
        super().loseConnection()
        self.protocol.connectionLost(ConnectionDone())

    def abortConnection(self) -> None:
        raise AssertionError("a closed connection was aborted")


def test_a_peer_whose_connection_closes_within_the_rejection_is_not_aborted_later():
    """The chaos run's second find: the connection closed inside reject's loseConnection,
    before the abort was scheduled, so nothing cancelled it."""
    protocol, transport, clock = Guarded(), ClosingAtOnce(), Clock()
    protocol.clock = clock
    transport.protocol = protocol
    protocol.makeConnection(transport)
    clock.advance(AUTH_TIMEOUT)
    clock.advance(ABORT_AFTER)
    assert not clock.getDelayedCalls()
