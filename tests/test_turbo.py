"""Turbo mode's pure parts and the broadcaster's peer server: which addresses a viewer tries,
and who gets images from the turbo port (only a viewer with a valid, unexpired ticket for
this broadcast, one frame at a time)."""

import os
import select
import socket
import ssl
import threading
import time

import pytest
from hypothesis import given, strategies as st
from itsdangerous.timed import TimestampSigner

from client.connection import Connection
from client.errors import ConnectionLost, FramecastError
from client.peer_server import PeerServer
from client.peer_tls import pinned_context
from client.turbo_view import ViewerTurbo
from common.messages.streaming import Ack, ViewerCap
from common.messages.turbo import PeerHello, PeerWelcome
from common.protocol import FrameInfo, encode_frame
from common.throttle import kbps_to_bytes
from common.signing import Signer
from common.tokens import PeerTicket
from common.turbo import MAX_CANDIDATES, admissible, candidate, new_turbo_key, order_for

KEY = new_turbo_key()
PEER = "peer-of-viewer-1"


def test_the_master_keeps_usable_hosts_and_adds_the_one_it_saw():
    hosts = ("0.0.0.0", "224.0.0.1", "169.254.1.1", "not an ip", "10.0.0.5", "10.0.0.5", "127.0.0.1")
    assert admissible(hosts, 4000, "203.0.113.9") == ("10.0.0.5:4000", "127.0.0.1:4000", "203.0.113.9:4000")


def test_a_viewer_tries_its_own_network_first_and_loopback_only_on_the_same_host():
    candidates = ("127.0.0.1:4000", "203.0.113.9:4000", "192.168.1.20:4000", "10.9.9.9:4000")
    assert order_for(candidates, "192.168.1.33", "203.0.113.9") == (
        "192.168.1.20:4000",
        "203.0.113.9:4000",
        "10.9.9.9:4000",
    )
    assert order_for(candidates, "127.0.0.1", "127.0.0.1")[0] == "127.0.0.1:4000"
    assert order_for(candidates, "203.0.113.9", "203.0.113.9")[0] == "127.0.0.1:4000"


@given(st.lists(st.ip_addresses(v=4).map(str), max_size=12), st.ip_addresses(v=4).map(str))
def test_candidates_are_bounded_well_formed_and_never_loopback_for_a_stranger(hosts, viewer):
    candidates = admissible(tuple(hosts), 4000, "198.51.100.7")
    assert len(candidates) <= MAX_CANDIDATES and all(candidate(c) == c for c in candidates)
    ordered = order_for(candidates, viewer, "198.51.100.7")
    assert set(ordered) <= set(candidates)
    if viewer not in ("198.51.100.7",) and not viewer.startswith("127."):
        assert not any(c.startswith("127.") for c in ordered)


@pytest.mark.parametrize("bad", ["localhost:80", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", 5, "x" * 100])
def test_a_bad_candidate_is_refused(bad):
    with pytest.raises(ValueError):
        candidate(bad)


@pytest.fixture
def server():
    peer_server = PeerServer("alice", host="127.0.0.1")
    peer_server.use_key(KEY)
    peer_server.listen(True)
    peer_server.allow("bob", PEER)  # the slave offered turbo mode to bob's session
    yield peer_server
    peer_server.close()


def serve_until(server, done, seconds: float = 5) -> None:
    give_up = time.monotonic() + seconds
    while not done() and time.monotonic() < give_up:
        server.serve(select.select(server.sockets(), [], [], 0.05)[0])


def connect(server, pin: str | None = None) -> Connection:
    """A viewer's TLS connection to the peer link, pinning ``pin`` (default: the right
    fingerprint); the server serves meanwhile (its handshake does not block)."""
    made: dict = {}

    def reach() -> None:
        try:
            made["conn"] = Connection(
                "127.0.0.1", server.port, tls=pinned_context(), pin=pin or server.identity.fingerprint
            )
        except FramecastError as exc:
            made["error"] = exc

    thread = threading.Thread(target=reach)
    thread.start()
    serve_until(server, lambda: not thread.is_alive())
    thread.join()
    if "error" in made:
        raise made["error"]
    return made["conn"]


def hello(server, ticket):
    """Connect and say hello; the server serves until it welcomed or hung up."""
    conn = connect(server)  # the server holds it now, its handshake done
    conn.send(PeerHello(ticket))
    serve_until(server, lambda: any(peer.ticket for peer in server.peers) or not server.peers)
    return conn


def ticket(key=KEY, peer=PEER, cap=None, viewer="bob"):
    return Signer(key).sign(PeerTicket(viewer, peer, cap))


def test_the_peer_link_is_tls_with_the_announced_certificate(server):
    with pytest.raises(ConnectionLost, match="a certificate other than the one announced"):
        connect(server, pin="0" * 64)
    plain = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    plain.sendall(PeerHello(ticket()).encode())  # a viewer without TLS gets nothing
    serve_until(server, lambda: bool(server.peers))
    serve_until(server, lambda: not server.peers)
    assert not server.peers
    try:
        assert plain.recv(100) == b""
    except ConnectionResetError:
        pass  # closed with the hello unread: a reset, as good as a close


def test_a_valid_ticket_gets_a_welcome_and_one_frame_at_a_time(server):
    conn = hello(server, ticket())
    assert isinstance(conn.recv(5), PeerWelcome)
    assert server.want_frame()
    wire = encode_frame(FrameInfo(7, time.time(), 4, 4, 0), b"jpeg")
    server.send_frame(7, wire)
    assert not server.want_frame(), "one frame in flight until it is acknowledged"
    assert conn.recv(5).seq == 7
    conn.send_bytes(Ack(7).encode())
    give_up = time.monotonic() + 5
    while not server.want_frame() and time.monotonic() < give_up:
        server.serve(select.select(server.sockets(), [], [], 0.05)[0])
    assert server.want_frame()


@pytest.mark.parametrize(
    "forged",
    [
        ticket(key="someone else's key"),
        "not a ticket at all",
    ],
)
def test_a_forged_ticket_gets_nothing(server, forged):
    conn = hello(server, forged)
    with pytest.raises((ConnectionLost, FramecastError)):
        conn.recv(5)
    assert not server.peers


def test_an_expired_ticket_gets_nothing(server, monkeypatch):
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3600)
    old = ticket()
    monkeypatch.undo()
    conn = hello(server, old)
    with pytest.raises(ConnectionLost):
        conn.recv(5)


def test_a_dropped_viewer_is_cut_off_and_its_ticket_is_void(server):
    conn = hello(server, ticket())
    assert isinstance(conn.recv(5), PeerWelcome)
    assert server.drop("bob", PEER) == "bob"
    with pytest.raises(ConnectionLost):
        conn.recv(5)
    again = hello(server, ticket())
    with pytest.raises(ConnectionLost):
        again.recv(5)


def test_the_port_accepts_nothing_while_turbo_mode_is_off():
    quiet = PeerServer("alice", host="127.0.0.1")
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", quiet.port), timeout=5)
        quiet.use_key(KEY)
        quiet.listen(True)
        socket.create_connection(("127.0.0.1", quiet.port), timeout=5).close()
        quiet.listen(False)  # turbo switched off: the port refuses again, and keeps its number
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", quiet.port), timeout=5)
    finally:
        quiet.close()


def test_a_valid_ticket_for_a_session_the_slave_does_not_name_gets_nothing(server, monkeypatch):
    monkeypatch.setattr("client.peer_server.HELLO_WITHIN", 0.5)
    conn = hello(server, ticket(peer="an older session of bob", viewer="bob"))
    serve_until(server, lambda: not server.peers)
    assert not server.peers, "never welcomed, closed at the hello deadline"
    with pytest.raises(ConnectionLost):
        conn.recv(5)


def test_a_hello_before_the_slave_names_the_session_waits_for_it(server):
    server.allow(None, "")
    conn = hello(server, ticket())
    (peer,) = server.peers
    assert peer.ticket is not None and not peer.welcomed, "no welcome before the slave names this session"
    server.allow("bob", PEER)
    assert isinstance(conn.recv(5), PeerWelcome)


def test_frames_stop_when_the_slave_names_no_one(server):
    conn = hello(server, ticket())
    assert isinstance(conn.recv(5), PeerWelcome)
    server.allow(None, "")  # a second viewer came: the link is kept, but carries no images
    assert not server.want_frame()
    server.send_frame(1, encode_frame(FrameInfo(1, time.time(), 4, 4, 0), b"jpeg"))
    assert [peer.in_flight for peer in server.peers] == [None]


def test_a_dropped_session_cannot_come_back_even_if_named_again(server):
    conn = hello(server, ticket())
    assert isinstance(conn.recv(5), PeerWelcome)
    server.drop("bob", PEER)
    server.allow("bob", PEER)  # a stale name: the session ended on the slave
    again = hello(server, ticket())
    with pytest.raises(ConnectionLost):
        again.recv(5)
    assert not server.want_frame()


def test_a_viewer_cannot_lift_the_cap_its_ticket_carries(server):
    conn = hello(server, ticket(cap=100))
    assert isinstance(conn.recv(5), PeerWelcome)
    conn.send(ViewerCap(None))
    serve_until(server, lambda: False, seconds=0.3)
    (peer,) = server.peers
    assert peer.throttle is not None and peer.throttle.cap == kbps_to_bytes(100)
    conn.send(ViewerCap(50))  # lowering it is fine
    serve_until(server, lambda: peer.throttle.cap == kbps_to_bytes(50), seconds=2)
    assert peer.throttle.cap == kbps_to_bytes(50)


def test_a_stranger_holding_back_part_of_a_record_does_not_stall_the_broadcaster(server):
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    stranger = pinned_context().wrap_socket(raw, server_hostname="127.0.0.1", do_handshake_on_connect=False)
    stranger.setblocking(False)
    serve_until(server, lambda: _handshake_step(stranger))
    serve_until(server, lambda: all(peer.secured for peer in server.peers))
    (peer,) = server.peers
    assert peer.secured and peer.conn.sock.gettimeout() == 0.0, "non-blocking after the handshake too"
    os.write(stranger.fileno(), b"\x17\x03\x03")  # under TLS: the first bytes of an application-data record, and no more
    server.serve(select.select(server.sockets(), [], [], 1)[0])
    assert peer in server.peers, "the partial record waits; serve() returned without reading on"


def test_a_viewer_that_reads_nothing_holds_one_frame_and_is_closed_when_stalled(server, monkeypatch):
    monkeypatch.setattr("client.peer_server.STALL_LIMIT", 0.3)
    conn = hello(server, ticket())
    assert isinstance(conn.recv(5), PeerWelcome)
    big = encode_frame(FrameInfo(1, time.time(), 4, 4, 0), b"x" * (8 << 20))  # more than the socket buffers
    server.send_frame(1, big)
    (peer,) = server.peers
    assert peer.unsent() and server.writers() == [peer.conn.sock], "the rest waits in the peer's outbox"
    assert not server.want_frame(), "nothing more for it meanwhile"
    serve_until(server, lambda: not server.peers)
    assert not server.peers


def _handshake_step(sock) -> bool:
    try:
        sock.do_handshake()
        return True
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False


def test_a_viewer_on_a_new_slave_closes_the_peer_link_of_its_last_session():
    """Found by the chaos run: after its slave was killed, a turbo viewer kept the paused peer
    link of its old session, which the broadcaster no longer serves, and never went peer to
    peer again on the new slave."""
    closed = []

    class Link:
        def close(self):
            closed.append(True)

    turbo = ViewerTurbo("alice", lambda message: None, lambda text: None)
    turbo.link = Link()
    turbo.new_slave()
    assert closed and turbo.link is None and not turbo.switch.wanted
