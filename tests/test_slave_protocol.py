"""The slave's client protocol over Twisted's in-memory transport."""

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from common.protocol import (
    HEADER,
    MAGIC,
    Codec,
    Decoder,
    FrameInfo,
    MessageType as T,
    encode,
    encode_ack,
    encode_frame,
    encode_json,
)
from common.tokens import Signer
from slave.client_port import SlaveClientProtocol
from slave.service import Slave, SlaveConfig

SIGNER = Signer("s3cret")


class Reports:
    def __init__(self):
        self.sent = []

    def report(self, msg_type, **fields):
        self.sent.append((msg_type, fields))


def make_slave():
    slave = Slave(SlaveConfig(id="slave-1", addr="127.0.0.1:1", grace=5), SIGNER, Clock())
    slave.master = Reports()
    return slave


def connect(slave):
    protocol = SlaveClientProtocol(slave)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def received(transport):
    messages = list(Decoder().feed(transport.value()))
    transport.clear()
    return messages


def broadcast_ticket(user="alice", session="session-1", slave="slave-1"):
    return SIGNER.ticket(kind="broadcast", user=user, session=session, slave=slave)


def view_ticket(user="bob", target="alice"):
    return SIGNER.ticket(kind="view", user=user, target=target, slave="slave-1", session=f"view-{user}")


def frame(seq):
    return encode_frame(FrameInfo(seq, 1.0, 640, 480, Codec.JPEG), b"jpeg-%d" % seq)


def test_broadcast_view_ack_cycle():
    slave = make_slave()
    broadcaster, b_transport = connect(slave)
    broadcaster.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    assert [m.type for m in received(b_transport)] == [T.ACCEPTED]
    assert slave.master.sent == [(T.SESSION_ADD, {"kind": "broadcast", "user": "alice", "session": "session-1"})]
    broadcaster.dataReceived(frame(1))
    assert [m.type for m in received(b_transport)] == [T.ACK]

    viewer, v_transport = connect(slave)
    viewer.dataReceived(encode_json(T.VIEW_START, ticket=view_ticket()))
    assert [m.type for m in received(v_transport)] == [T.ACCEPTED, T.FRAME]
    events = received(b_transport)
    assert events[0].type == T.VIEWER_EVENT and events[0].json()["event"] == "join"

    broadcaster.dataReceived(frame(2) + frame(3))
    assert received(v_transport) == []  # frame 1 not acknowledged yet
    viewer.dataReceived(encode_ack(1))
    (sent,) = received(v_transport)
    assert sent.body.endswith(b"jpeg-3")


def test_a_ticket_for_another_slave_is_refused():
    slave = make_slave()
    protocol, transport = connect(slave)
    protocol.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket(slave="slave-9")))
    (error,) = received(transport)
    assert error.type == T.ERROR and error.json()["code"] == "wrong_slave"
    assert slave.broadcasts == {}


def test_a_forged_ticket_is_refused():
    protocol, transport = connect(make_slave())
    protocol.dataReceived(encode_json(T.VIEW_START, ticket=Signer("other").ticket(kind="view")))
    assert received(transport)[0].json()["code"] == "bad_ticket"


def test_viewing_a_broadcast_that_is_not_here():
    protocol, transport = connect(make_slave())
    protocol.dataReceived(encode_json(T.VIEW_START, ticket=view_ticket(target="carol")))
    assert received(transport)[0].json()["code"] == "not_here"


def test_garbage_gets_an_error_and_a_close_while_others_carry_on():
    slave = make_slave()
    broadcaster, b_transport = connect(slave)
    broadcaster.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    intruder, i_transport = connect(slave)
    intruder.dataReceived(b"\x00garbage that is not framecast")
    (error,) = received(i_transport)
    assert error.json()["code"] == "bad_magic" and i_transport.disconnecting
    broadcaster.dataReceived(frame(1))
    assert slave.broadcasts["alice"].latest.seq == 1


def test_oversized_message_is_refused():
    protocol, transport = connect(make_slave())
    protocol.dataReceived(HEADER.pack(MAGIC, 1, T.FRAME, 0, 1 << 30))
    assert received(transport)[0].json()["code"] == "too_large" and transport.disconnecting


def test_unknown_message_types_are_skipped():
    slave = make_slave()
    protocol, transport = connect(slave)
    protocol.dataReceived(encode(222, b"from the future") + encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    assert [m.type for m in received(transport)] == [T.ACCEPTED]


def test_a_dropped_broadcaster_keeps_its_broadcast_for_the_grace_period():
    slave = make_slave()
    protocol, _ = connect(slave)
    protocol.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    protocol.connectionLost(None)
    assert "alice" in slave.broadcasts
    again, transport = connect(slave)
    again.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    assert received(transport)[0].type == T.ACCEPTED
    again.connectionLost(None)
    slave.reactor.advance(5)
    assert "alice" not in slave.broadcasts
    assert slave.master.sent[-1][0] == T.SESSION_REMOVE


def test_a_clean_stop_ends_the_broadcast_and_tells_viewers():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    viewer, v_transport = connect(slave)
    viewer.dataReceived(encode_json(T.VIEW_START, ticket=view_ticket()))
    received(v_transport)
    broadcaster.dataReceived(encode_json(T.BROADCAST_STOP))
    broadcaster.connectionLost(None)
    assert received(v_transport)[0].type == T.BROADCAST_ENDED
    assert "alice" not in slave.broadcasts


def test_another_session_of_a_broadcasting_user_is_refused():
    slave = make_slave()
    first, _ = connect(slave)
    first.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    second, transport = connect(slave)
    second.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket(session="session-2")))
    assert received(transport)[0].json()["code"] == "already_broadcasting"


def test_a_ticket_opens_one_viewer_session_only():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    ticket = SIGNER.ticket(kind="view", user="bob", target="alice", slave="slave-1", session="view-1")
    first, first_transport = connect(slave)
    first.dataReceived(encode_json(T.VIEW_START, ticket=ticket))
    assert received(first_transport)[0].type == T.ACCEPTED
    replay, transport = connect(slave)
    replay.dataReceived(encode_json(T.VIEW_START, ticket=ticket))
    assert received(transport)[0].json()["code"] == "bad_ticket"


def test_quiet_viewers_get_keepalives_and_silent_ones_are_dropped():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    paused, p_transport = connect(slave)
    paused.dataReceived(encode_json(T.VIEW_START, ticket=view_ticket()))
    paused.dataReceived(encode_json(T.VIEWER_PAUSE))
    stalled, s_transport = connect(slave)
    stalled.dataReceived(encode_json(T.VIEW_START, ticket=view_ticket(user="carol")))
    broadcaster.dataReceived(frame(1))  # goes to carol, who never acknowledges it
    received(p_transport), received(s_transport)
    slave.reactor.advance(3)
    slave.check_viewers()
    assert [m.type for m in received(p_transport)] == [T.KEEPALIVE]
    assert received(s_transport) == []
    slave.reactor.advance(3)  # stall timeout is 20 s by default
    slave.config.stall_timeout = 5
    slave.check_viewers()
    assert received(s_transport)[0].json()["code"] == "stalled"
    assert len(slave.broadcasts["alice"].viewers) == 1


def test_a_broadcast_that_comes_back_after_moving_starts_afresh():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    viewer, _ = connect(slave)
    viewer.dataReceived(encode_json(T.VIEW_START, ticket=view_ticket()))
    broadcaster.dataReceived(encode_json(T.BROADCAST_MOVED))
    old = slave.broadcasts["alice"]
    assert old.moved
    back, transport = connect(slave)
    back.dataReceived(encode_json(T.BROADCAST_START, ticket=broadcast_ticket()))
    assert received(transport)[0].type == T.ACCEPTED
    assert slave.broadcasts["alice"] is not old and not slave.broadcasts["alice"].moved
