"""TLS done on the socket itself (``common.direct_tls``) with the slave's direct writer, on
real loopback sockets: the handshake, a frame the kernel takes only in part (held as a view of the
shared frame and finished when the viewer reads), a viewer that stalls mid-frame, a close
and an abort during a pending write, garbage instead of a TLS record, and the web ports'
plain HTTP for this machine. The reactor is a ``MemoryReactor`` and the test plays its part
(``pump``), as in ``test_socket_write``."""

import datetime
import select
import socket
import ssl
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from twisted.internet import main
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from common.direct_tls import DirectTLSServer
from common.tls import pem_key, self_signed, server_options
from common.web_tls import USE_HTTPS
from common.socket_write import direct_writer

FRAME = bytes(range(256)) * 4096  # 1 MiB, shared by every viewer


class Recorder(Protocol):
    def __init__(self):
        self.received = b""
        self.lost = None

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.lost = reason


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed("localhost", datetime.timedelta(days=1))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(pem_key(key))
    return folder / "cert.pem", folder / "key.pem"


def accepted(certificate, client_host="127.0.0.1", plain_for_loopback=False, send_buffer=None, plain_for_data=False):
    """A server connection on a loopback TCP connection; the other end is the client's."""
    ours, theirs = tcp_pair()
    if send_buffer:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    ours.setblocking(False)
    reactor, protocol = MemoryReactorClock(), Recorder()
    options = server_options(str(certificate[0]), str(certificate[1]))
    port = SimpleNamespace(
        tls_context=options.getContext(),
        plain_for_loopback=plain_for_loopback,
        plain_for_data=plain_for_data,
        factory=None,
        _realPortNumber=1,
    )
    transport = DirectTLSServer(ours, protocol, (client_host, 40000), port, 1, reactor)
    protocol.makeConnection(transport)
    return transport, theirs, protocol, reactor


def tcp_pair():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    return ours, theirs


def client_tls(theirs):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    client = context.wrap_socket(theirs, server_hostname="localhost", do_handshake_on_connect=False)
    client.setblocking(False)
    return client


def pump(transport, reactor, until, client=None, rounds=100_000):
    """Play the reactor (and the client's handshake) until ``until()``; returns what
    ``doRead``/``doWrite`` returned besides None."""
    outcomes = []
    for _ in range(rounds):
        if until():
            return outcomes
        if client is not None:
            try:
                client.do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        readable = select.select([transport.fileno()], [], [], 0)[0]
        if readable and transport in reactor.getReaders():
            outcomes.append(transport.doRead())
        if transport in reactor.getWriters():
            outcomes.append(transport.doWrite())
        outcomes = [o for o in outcomes if o is not None]
        if outcomes and not until():
            return outcomes
    raise AssertionError("never got there")


def handshake(certificate, **kwargs):
    transport, theirs, protocol, reactor = accepted(certificate, **kwargs)
    client = client_tls(theirs)
    pump(transport, reactor, lambda: not transport._handshaking, client)
    pump(transport, reactor, lambda: _handshake_done(client), client, rounds=1000)
    return transport, client, protocol, reactor


def _handshake_done(client) -> bool:
    try:
        client.do_handshake()
        return True
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False


def read_all(client, transport, reactor, size, outcomes=None):
    """What the client reads while the reactor would call ``doWrite``; what those returned
    besides None goes into ``outcomes``."""
    received = bytearray()
    for _ in range(100_000):
        if transport in reactor.getWriters():
            outcome = transport.doWrite()
            if outcome is not None and outcomes is not None:
                outcomes.append(outcome)
        try:
            received += client.recv(1 << 20)
        except ssl.SSLWantReadError:
            pass
        if len(received) >= size:
            return bytes(received)
    raise AssertionError(f"only {len(received)} of {size} bytes arrived")


def test_the_handshake_then_records_both_ways(certificate):
    transport, client, protocol, reactor = handshake(certificate)
    client.sendall(b"hello over TLS")
    pump(transport, reactor, lambda: protocol.received == b"hello over TLS")
    write = direct_writer(transport)
    write(b"a frame")
    assert read_all(client, transport, reactor, 7) == b"a frame"


def test_a_frame_the_socket_takes_in_part_is_held_as_a_view_and_finished_in_order(certificate):
    transport, client, protocol, reactor = handshake(certificate, send_buffer=4096)
    write = direct_writer(transport)
    write(FRAME)
    held = transport.doWrite.__self__.rest
    assert held is not None and held.obj is FRAME, "a view of the shared frame, not a copy"
    assert transport in reactor.getWriters()
    write(b"after the frame")  # queued behind the held rest, in order
    assert read_all(client, transport, reactor, len(FRAME) + 15) == FRAME + b"after the frame"
    assert transport.doWrite.__self__.rest is None


def test_a_viewer_that_stalls_mid_frame_holds_that_frame_and_nothing_more(certificate):
    transport, client, protocol, reactor = handshake(certificate, send_buffer=4096)
    write = direct_writer(transport)
    write(FRAME)
    for _ in range(20):  # the socket stays full: retries send nothing and copy nothing
        transport.doWrite()
    assert transport.doWrite.__self__.rest.obj is FRAME
    assert transport.dataBuffer == b"" and transport._tempDataLen == 0


def test_a_close_during_a_pending_write_completes_after_the_frame_with_close_notify(certificate):
    transport, client, protocol, reactor = handshake(certificate, send_buffer=4096)
    direct_writer(transport)(FRAME)
    transport.loseConnection()
    outcomes = []
    assert read_all(client, transport, reactor, len(FRAME), outcomes) == FRAME
    for _ in range(100):  # the reactor goes on calling doWrite until the close completes
        if outcomes or transport not in reactor.getWriters():
            break
        if (outcome := transport.doWrite()) is not None:
            outcomes.append(outcome)
    assert outcomes == [main.CONNECTION_DONE], "the close completes once the frame is out"
    transport.connectionLost(Failure(main.CONNECTION_DONE))
    client.setblocking(True)
    client.settimeout(5)
    assert client.recv(100) == b"", "an orderly end of the TLS stream, not a reset"


def test_an_abort_during_a_pending_write_closes_at_once(certificate):
    transport, client, protocol, reactor = handshake(certificate, send_buffer=4096)
    direct_writer(transport)(FRAME)
    transport.abortConnection()
    reactor.advance(0)
    assert transport.disconnected and protocol.lost is not None


def test_garbage_instead_of_a_tls_record_loses_the_connection(certificate):
    transport, theirs, protocol, reactor = accepted(certificate)
    theirs.sendall(b"GET / HTTP/1.0\r\n\r\n")
    assert pump(transport, reactor, lambda: False, rounds=1000) == [main.CONNECTION_LOST]
    assert protocol.received == b""


def test_garbage_after_the_handshake_loses_the_connection(certificate):
    transport, client, protocol, reactor = handshake(certificate)
    raw = socket.socket(fileno=client.detach())  # under TLS: bytes that are no valid record
    raw.sendall(b"\x17\x03\x03\x00\x05junk!")
    assert pump(transport, reactor, lambda: False, rounds=1000) == [main.CONNECTION_LOST]


def test_a_web_port_serves_plain_http_to_this_machine_and_tls_to_anyone(certificate):
    transport, theirs, protocol, reactor = accepted(certificate, plain_for_loopback=True)
    theirs.sendall(b"GET / HTTP/1.1\r\n\r\n")
    pump(transport, reactor, lambda: protocol.received != b"")
    assert protocol.received == b"GET / HTTP/1.1\r\n\r\n" and transport._tls is None

    transport, client, protocol, reactor = handshake(certificate, plain_for_loopback=True, client_host="203.0.113.9")
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    pump(transport, reactor, lambda: protocol.received != b"")
    assert protocol.received == b"GET / HTTP/1.1\r\n\r\n" and transport._tls is not None


def test_plain_http_from_elsewhere_gets_one_line_and_a_close(certificate):
    transport, theirs, protocol, reactor = accepted(certificate, plain_for_loopback=True, client_host="203.0.113.9")
    theirs.sendall(b"GET / HTTP/1.1\r\n\r\n")
    outcome = pump(transport, reactor, lambda: False, rounds=1000)
    assert outcome == [main.CONNECTION_DONE] and protocol.received == b""
    theirs.settimeout(5)
    assert theirs.recv(1000) == USE_HTTPS


def test_a_client_port_takes_plain_data_connections_from_anywhere_and_tls(certificate):
    """Sealed frames' data connections are plain; the protocol (``slave.client_port``) is
    told by ``secure`` and refuses anything else on them."""
    transport, theirs, protocol, reactor = accepted(certificate, plain_for_data=True, client_host="203.0.113.9")
    theirs.sendall(b"FC plain")
    pump(transport, reactor, lambda: protocol.received != b"")
    assert protocol.received == b"FC plain" and not transport.secure

    transport, client, protocol, reactor = handshake(certificate, plain_for_data=True, client_host="203.0.113.9")
    client.sendall(b"FC over TLS")
    pump(transport, reactor, lambda: protocol.received != b"")
    assert protocol.received == b"FC over TLS" and transport.secure


def test_a_silent_connection_is_cut(certificate):
    transport, theirs, protocol, reactor = accepted(certificate, plain_for_loopback=True)
    reactor.advance(10)  # FIRST_BYTE_WITHIN
    reactor.advance(0)
    assert transport.disconnected and protocol.lost is not None
