"""Turbo mode on the slave, over Twisted's in-memory transports: the broadcaster's peer link
serves only the viewer session the slave names, and hears whenever a viewer session ends,
however it ends; the turbo key is the slave's own random draw, and peer tickets carry no
session id."""

import base64
import json
import secrets

import pytest

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from client.errors import ConnectionLost
from common.messages.streaming import Accepted, BroadcastStart, ViewStart
from common.messages.turbo import PeerAllow, PeerDrop, PeerWelcome, TurboAllow, TurboOffer, TurboPath, TurboUpload
from common.signing import Signer
from common.tokens import BroadcastTicket, PeerTicket, ViewTicket
from common.turbo import peer_id
from slave.client_port import SlaveClientProtocol
from slave.config import SlaveConfig
from slave.node import Slave
from tests.test_slave_protocol import Reports, clock_now, received

SIGNER = Signer("s3cret")
FINGERPRINT = "ab" * 32


def make_slave():
    slave = Slave(SlaveConfig(id="slave-1", addr="127.0.0.1:1", grace=5), SIGNER, clock_now())
    slave.uplink.link = Reports()
    return slave


def connect(slave, host="127.0.0.1"):
    protocol = SlaveClientProtocol(slave.client_services, slave.reactor)
    transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
    protocol.makeConnection(transport)
    return protocol, transport


def start_turbo_broadcast(slave, session="alice-session"):
    broadcaster, transport = connect(slave)
    ticket = BroadcastTicket(
        "alice", session, "slave-1", ("127.0.0.1:4000",), secrets.token_urlsafe(6), FINGERPRINT
    )
    broadcaster.dataReceived(BroadcastStart(SIGNER.sign(ticket)).encode())
    (accepted,) = received(transport)
    assert isinstance(accepted, Accepted) and accepted.turbo_key
    broadcaster.dataReceived(TurboAllow(True).encode())
    return broadcaster, transport, accepted.turbo_key


def watch(slave, user="bob", session="bob-session"):
    viewer, transport = connect(slave)
    viewer.dataReceived(ViewStart(SIGNER.sign(ViewTicket(user, "alice", "slave-1", session))).encode())
    return viewer, transport


def of(kind, messages):
    return [m for m in messages if isinstance(m, kind)]


def test_a_p2p_viewer_that_closes_its_slave_connection_is_cut_off_at_the_broadcaster():
    slave = make_slave()
    _, b_transport, key = start_turbo_broadcast(slave)
    viewer, v_transport = watch(slave)
    (offer,) = of(TurboOffer, received(v_transport))
    bob = peer_id(key, "bob-session")
    assert of(PeerAllow, received(b_transport)) == [PeerAllow("bob", bob)], "the link may serve bob's session"
    viewer.dataReceived(TurboPath(True).encode())
    assert of(TurboUpload, received(b_transport)) == [TurboUpload(False, "bob")]

    viewer.connectionLost(None)  # the attack: leave the slave, keep the peer link
    told = received(b_transport)
    assert PeerDrop("bob", bob) in told, "the broadcaster closes bob's peer link"
    assert PeerAllow() in told and TurboUpload(True, "alice") in told
    assert not slave.viewers.sessions


def test_a_thrown_p2p_viewer_is_dropped_at_the_broadcaster():
    slave = make_slave()
    _, b_transport, key = start_turbo_broadcast(slave)
    viewer, v_transport = watch(slave)
    viewer.dataReceived(TurboPath(True).encode())
    received(b_transport)
    slave.viewer_control.throw("alice", "bob", until=slave.reactor.seconds() + 300)
    assert PeerDrop("bob", peer_id(key, "bob-session")) in received(b_transport)


def test_with_a_second_viewer_the_peer_link_serves_no_one():
    slave = make_slave()
    _, b_transport, key = start_turbo_broadcast(slave)
    first, _ = watch(slave)
    first.dataReceived(TurboPath(True).encode())
    received(b_transport)
    watch(slave, "carol", "carol-session")
    told = received(b_transport)
    assert PeerAllow() in told and TurboUpload(True, "bob") in told


def test_the_turbo_key_is_drawn_by_the_slave_and_tickets_hold_no_session():
    """Starting a broadcast under a session id one has seen gives another key: the key of
    someone else's broadcast cannot be had by naming its session."""
    first, second = make_slave(), make_slave()
    _, _, key_one = start_turbo_broadcast(first, session="the-same-session")
    _, _, key_two = start_turbo_broadcast(second, session="the-same-session")
    assert key_one != key_two
    assert SIGNER.secret not in key_one

    _, v_transport = watch(first)
    (offer,) = of(TurboOffer, received(v_transport))
    payload = offer.ticket.split(".")[0]
    readable = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert "bob-session" not in readable and "the-same-session" not in readable
    assert json.loads(readable)["viewer"] == "bob"
    ticket = Signer(key_one).check(offer.ticket, PeerTicket, first.reactor.seconds())
    assert ticket.peer == peer_id(key_one, "bob-session")


def test_the_attack_end_to_end_in_process(monkeypatch):
    """A lone viewer takes images over the peer link, then closes its slave connection: what
    the slave tells the broadcaster makes the broadcaster's own turbo code cut the link."""
    from client.turbo_broadcast import BroadcastTurbo
    from common.prefs import Turbo
    from tests.test_turbo import hello, serve_until

    slave = make_slave()
    _, b_transport, key = start_turbo_broadcast(slave)
    turbo = BroadcastTurbo("alice", Turbo.ALWAYS, lambda line: None)
    try:
        turbo.joined(_Sink(), key)
        viewer, v_transport = watch(slave)
        (offer,) = of(TurboOffer, received(v_transport))
        for message in received(b_transport):
            turbo.handle(message)  # PEER_ALLOW for bob's session
        link = hello(turbo.server, offer.ticket)
        assert isinstance(link.recv(5), PeerWelcome) and turbo.server.want_frame()

        viewer.connectionLost(None)  # bob leaves the slave and keeps the peer link
        for message in received(b_transport):
            turbo.handle(message)
        serve_until(turbo.server, lambda: not turbo.server.peers)
        assert not turbo.server.peers and not turbo.server.want_frame()
        again = hello(turbo.server, offer.ticket)  # the same ticket, still unexpired
        with pytest.raises(ConnectionLost):
            again.recv(5)
    finally:
        turbo.close()


class _Sink:
    """The broadcaster's slave connection, as far as turbo mode writes to it."""

    def send(self, message) -> None:
        pass
