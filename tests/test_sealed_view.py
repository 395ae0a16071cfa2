"""Sealed frames on a slave (``slave.sealing``, ``slave.client_port``) over Twisted's
in-memory transports: the data connection, the keys, and what an attacker with an ordinary
account tries against them (the README's threat model, "Encryption")."""

import pytest
from twisted.internet.testing import StringTransport

from common.errors import ErrorCode
from common.frame_seal import FrameOpener, SealError, UnknownKey, encode_sealed_ack, from_text
from common.messages.admission import Removed
from common.messages.basic import Error
from common.messages.sealing import DataAttach, FrameKey, SealedFrame
from common.messages.streaming import Accepted, ViewStart
from common.protocol import HEADER, encode_ack
from slave.client_port import SlaveClientProtocol
from slave.config import SlaveConfig
from slave.node import Slave
from slave.sealing import TOKEN_LIFETIME
from tests.test_slave_protocol import (
    SLAVE_KEYS,
    Reports,
    clock_now,
    frame,
    received,
    start_broadcast,
    broadcast_ticket,
    view_ticket,
)


def tls_slave():
    """A slave whose ports serve TLS (``peer_tls`` given), so it offers sealed frames."""
    slave = Slave(SlaveConfig(id="slave-1", addr="127.0.0.1:1", grace=5), SLAVE_KEYS, clock_now(), lambda host: None)
    slave.uplink.link = Reports()
    return slave


def connect(slave, secure: bool | None):
    """``secure``: what ``DirectTLSServer.secure`` says (True: TLS, False: plain on a TLS port)."""
    protocol = SlaveClientProtocol(slave.client_services, slave.reactor)
    transport = StringTransport()
    transport.secure = secure
    protocol.makeConnection(transport)
    return protocol, transport


class SealedViewer:
    """A viewer's two connections and what it learned over TLS."""

    def __init__(self, slave, user="bob"):
        self.control, self.control_t = connect(slave, secure=True)
        self.control.dataReceived(ViewStart(view_ticket(user=user), sealed=True).encode())
        accepted = received(self.control_t)[0]
        assert isinstance(accepted, Accepted) and accepted.seal is not None
        self.keys = accepted.seal
        self.opener = FrameOpener(from_text(self.keys.public_key, 32))
        self.ack_key = from_text(self.keys.ack_key, 32)
        self.data, self.data_t = connect(slave, secure=False)
        self.data.dataReceived(DataAttach(self.keys.data_token).encode())

    def control_messages(self):
        messages = received(self.control_t)
        for message in messages:
            if isinstance(message, FrameKey):
                self.opener.add_key(message.key_id, from_text(message.key, 32))
        return messages

    def frames(self):
        """The sealed frames on the data connection (their keys read first)."""
        self.control_messages()
        return [m for m in received(self.data_t) if isinstance(m, SealedFrame)]

    def ack(self, seq):
        self.data.dataReceived(encode_sealed_ack(self.ack_key, seq))


@pytest.fixture
def live():
    slave = tls_slave()
    broadcaster, _ = connect(slave, secure=True)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    broadcaster.dataReceived(frame(1))
    return slave, broadcaster


def test_a_sealed_viewer_gets_every_frame_on_its_data_connection(live):
    slave, broadcaster = live
    bob = SealedViewer(slave)
    (first,) = bob.frames()
    assert bob.opener.open(first.body)[:8] == (1).to_bytes(8, "big")
    assert bob.control_t.value() == b""  # no frame goes over TLS
    bob.ack(1)
    broadcaster.dataReceived(frame(2))
    (second,) = bob.frames()
    assert bob.opener.open(second.body)[:8] == (2).to_bytes(8, "big")


def test_every_viewer_gets_the_same_bytes(live):
    slave, broadcaster = live
    bob, carol = SealedViewer(slave, "bob"), SealedViewer(slave, "carol")
    bob.frames(), carol.frames()
    bob.ack(1), carol.ack(1)
    broadcaster.dataReceived(frame(2))
    assert bob.frames()[0].body == carol.frames()[0].body


def test_a_viewer_that_leaves_holds_no_key_of_what_follows(live):
    slave, broadcaster = live
    bob, carol = SealedViewer(slave, "bob"), SealedViewer(slave, "carol")
    bob.frames(), carol.frames()
    bob.ack(1), carol.ack(1)
    bob.control.transport.loseConnection()
    bob.control.connectionLost(None)
    broadcaster.dataReceived(frame(2))
    (after,) = carol.frames()
    assert carol.opener.open(after.body)[:8] == (2).to_bytes(8, "big")
    with pytest.raises(UnknownKey):
        bob.opener.open(after.body)
    assert bob.data_t.disconnecting  # its data connection went with it


def test_a_thrown_viewer_holds_no_key_of_what_follows(live):
    slave, broadcaster = live
    bob, carol = SealedViewer(slave, "bob"), SealedViewer(slave, "carol")
    bob.frames(), carol.frames()
    bob.ack(1), carol.ack(1)
    slave.viewer_control.throw("alice", "bob", slave.reactor.seconds() + 60)
    assert Removed("alice") in received(bob.control_t)
    broadcaster.dataReceived(frame(2))
    (after,) = carol.frames()
    with pytest.raises(UnknownKey):
        bob.opener.open(after.body)


def test_a_newcomer_gets_no_key_of_frames_sent_before_it_came(live):
    slave, broadcaster = live
    bob = SealedViewer(slave, "bob")
    (before,) = bob.frames()
    carol = SealedViewer(slave, "carol")
    carol.frames()
    with pytest.raises(UnknownKey):
        carol.opener.open(before.body)


def test_one_key_change_for_many_departures(live):
    slave, broadcaster = live
    viewers = [SealedViewer(slave, f"viewer{n}") for n in range(5)]
    for viewer in viewers:
        viewer.frames()
        viewer.ack(1)
    for viewer in viewers[:3]:
        viewer.control.connectionLost(None)
    broadcaster.dataReceived(frame(2))
    keys = [m for m in received(viewers[3].control_t) if isinstance(m, FrameKey)]
    assert len(keys) == 1


def test_a_plain_connection_to_a_tls_port_may_only_attach_data(live):
    slave, _ = live
    eve, transport = connect(slave, secure=False)
    eve.dataReceived(ViewStart(view_ticket(user="eve")).encode())
    (refusal,) = received(transport)
    assert refusal.code == ErrorCode.TLS_REQUIRED and transport.disconnecting
    assert "eve" not in {s.user for b in slave.table.all() for s in b.viewers.values()}


def test_a_data_token_opens_one_data_connection_only(live):
    slave, _ = live
    bob = SealedViewer(slave)
    mallory, transport = connect(slave, secure=False)
    mallory.dataReceived(DataAttach(bob.keys.data_token).encode())
    assert received(transport)[0].code == ErrorCode.BAD_TICKET


def test_an_unknown_or_expired_data_token_is_refused(live):
    slave, _ = live
    mallory, transport = connect(slave, secure=False)
    mallory.dataReceived(DataAttach("guessed-token").encode())
    assert received(transport)[0].code == ErrorCode.BAD_TICKET

    control, control_t = connect(slave, secure=True)
    control.dataReceived(ViewStart(view_ticket(user="carol"), sealed=True).encode())
    token = received(control_t)[0].seal.data_token
    slave.reactor.advance(TOKEN_LIFETIME + 1)
    late, late_t = connect(slave, secure=False)
    late.dataReceived(DataAttach(token).encode())
    assert received(late_t)[0].code == ErrorCode.BAD_TICKET


def test_a_viewer_that_never_opens_its_data_connection_is_dropped(live):
    slave, _ = live
    control, control_t = connect(slave, secure=True)
    control.dataReceived(ViewStart(view_ticket(user="carol"), sealed=True).encode())
    received(control_t)
    slave.reactor.advance(TOKEN_LIFETIME + 1)
    messages = received(control_t)
    assert isinstance(messages[-1], Error) and messages[-1].code == ErrorCode.TIMEOUT
    assert control_t.disconnecting


def test_an_acknowledgement_with_a_wrong_mac_or_none_cuts_the_data_connection(live):
    slave, broadcaster = live
    bob = SealedViewer(slave)
    bob.frames()
    bob.data.dataReceived(encode_sealed_ack(b"\x00" * 32, 1))  # a guessed key
    assert received(bob.data_t)[0].code == ErrorCode.BAD_ACK and bob.data_t.disconnecting

    carol = SealedViewer(slave, "carol")
    carol.frames()
    carol.data.dataReceived(encode_ack(1))  # a plain ACK: not on a data connection
    assert received(carol.data_t)[0].code == ErrorCode.TLS_REQUIRED
    assert slave.table.get("alice").viewers[carol.control].in_flight is not None  # nothing acknowledged


def test_a_viewer_over_tls_that_does_not_ask_gets_each_frame_encrypted_for_it(live):
    slave, _ = live
    relay_like, transport = connect(slave, secure=True)
    relay_like.dataReceived(ViewStart(view_ticket(user="dave")).encode())
    accepted, image = received(transport)[:2]
    assert accepted.seal is None and image.seq == 1


def test_a_frame_sealed_under_a_key_not_yet_sent_is_not_opened_until_the_key_comes(live):
    slave, broadcaster = live
    bob = SealedViewer(slave)
    bob.frames()
    bob.ack(1)
    SealedViewer(slave, "carol")  # a key change, told over TLS
    broadcaster.dataReceived(frame(2))
    (sealed,) = [m for m in received(bob.data_t) if isinstance(m, SealedFrame)]
    with pytest.raises(UnknownKey):
        bob.opener.open(sealed.body)
    bob.control_messages()
    assert bob.opener.open(sealed.body)[:8] == (2).to_bytes(8, "big")


def test_an_insecure_slave_offers_no_sealing():
    from tests.test_slave_protocol import make_slave

    slave = make_slave()
    broadcaster, _ = connect(slave, secure=None)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    viewer, transport = connect(slave, secure=None)
    viewer.dataReceived(ViewStart(view_ticket(), sealed=True).encode())
    assert received(transport)[0].seal is None


def test_a_garbled_sealed_frame_is_a_seal_error():
    with pytest.raises(SealError):
        FrameOpener(b"\x01" * 32).open(b"\x00" * (HEADER.size + 200))
