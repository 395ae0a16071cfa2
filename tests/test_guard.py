"""Limits before and after a client is known (``common.messaging``), on an in-memory
transport: small bodies and one request at a time before, a deadline to show who it is,
no reading while replies cannot be written, and a rejected peer is cut."""

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from common.errors import ErrorCode
from common.messages import parse
from common.messages.accounts import Login, StatusRequest
from common.messages.basic import Ok
from common.messaging import ABORT_AFTER, AUTH_TIMEOUT, MAX_IN_FLIGHT, PRE_AUTH_MAX_BODY, MessageProtocol, handles
from common.protocol import Decoder, MessageType, encode


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
