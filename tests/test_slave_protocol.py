"""The slave's client protocol over Twisted's in-memory transport."""

import secrets
import time

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from common.errors import ErrorCode
from common.messages import parse
from common.messages.basic import Error
from common.messages.cluster import SessionAdd, SessionKind, SessionRemove
from common.messages.streaming import (
    Accepted,
    Ack,
    BroadcastEnded,
    BroadcastMoved,
    BroadcastStart,
    BroadcastStop,
    ImageFrame,
    Keepalive,
    ViewerEvent,
    ViewerPause,
    ViewStart,
)
from common.protocol import HEADER, MAGIC, Codec, Decoder, FrameInfo, MessageType as T, encode, encode_ack, encode_frame
from common.keys import master_ticket_key, slave_key
from common.signing import Signer
from common.tokens import BroadcastTicket, NodeKeys, ViewTicket
from slave.broadcast_life import State
from slave.client_port import SlaveClientProtocol
from slave.config import SlaveConfig
from slave.node import Slave

SIGNER = NodeKeys.for_master("s3cret")  # signs tickets as the masters do
SLAVE_KEYS = NodeKeys.for_slave(master_ticket_key("s3cret").public_key(), slave_key("s3cret"))


class Reports:
    def __init__(self):
        self.sent = []

    def report(self, message):
        self.sent.append(message)


def clock_now() -> Clock:
    """The slave's reactor: a hand-driven clock that starts now (tickets are signed now)."""
    clock = Clock()
    clock.advance(time.time())
    return clock


def make_slave():
    slave = Slave(SlaveConfig(id="slave-1", addr="127.0.0.1:1", grace=5), SLAVE_KEYS, clock_now())
    slave.uplink.link = Reports()
    return slave


def connect(slave):
    protocol = SlaveClientProtocol(slave.client_services, slave.reactor)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def received(transport):
    messages = [parse(m) for m in Decoder().feed(transport.value())]
    transport.clear()
    return messages


def kinds(messages):
    return [type(m) for m in messages]


def start_broadcast(ticket):
    return BroadcastStart(ticket).encode()


def start_view(ticket):
    return ViewStart(ticket).encode()


def broadcast_ticket(user="alice", session="session-1", slave="slave-1"):
    return SIGNER.sign(BroadcastTicket(user, session, slave, nonce=secrets.token_urlsafe(6)))


def view_ticket(user="bob", target="alice", session=None):
    return SIGNER.sign(ViewTicket(user, target, "slave-1", session or f"view-{user}-session"))


def frame(seq):
    return encode_frame(FrameInfo(seq, 1.0, 640, 480, Codec.JPEG), b"jpeg-%d" % seq)


def test_broadcast_view_ack_cycle():
    slave = make_slave()
    broadcaster, b_transport = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    assert kinds(received(b_transport)) == [Accepted]
    assert slave.uplink.link.sent == [SessionAdd(SessionKind.BROADCAST, "alice", "session-1")]
    broadcaster.dataReceived(frame(1))
    assert kinds(received(b_transport)) == [Ack]

    viewer, v_transport = connect(slave)
    viewer.dataReceived(start_view(view_ticket()))
    assert kinds(received(v_transport)) == [Accepted, ImageFrame]
    events = received(b_transport)
    assert isinstance(events[0], ViewerEvent) and events[0].event == "join"

    broadcaster.dataReceived(frame(2) + frame(3))
    assert received(v_transport) == []  # frame 1 not acknowledged yet
    viewer.dataReceived(encode_ack(1))
    (sent,) = received(v_transport)
    assert sent.body.endswith(b"jpeg-3")


def test_a_ticket_for_another_slave_is_refused():
    slave = make_slave()
    protocol, transport = connect(slave)
    protocol.dataReceived(start_broadcast(broadcast_ticket(slave="slave-9")))
    (error,) = received(transport)
    assert isinstance(error, Error) and error.code == "wrong_slave"
    assert len(slave.table) == 0


def test_a_forged_ticket_is_refused():
    protocol, transport = connect(make_slave())
    protocol.dataReceived(start_view(Signer("other").sign(ViewTicket("bob", "alice", "slave-1", "session-x1"))))
    assert received(transport)[0].code == "bad_ticket"


def test_tickets_signed_with_the_slave_key_are_refused_as_master_tickets():
    """What a slave holds signs no ticket another slave takes as a master's."""
    slave = make_slave()
    forger = Signer(slave_key("s3cret"))
    broadcaster, b_transport = connect(slave)
    broadcaster.dataReceived(start_broadcast(forger.sign(BroadcastTicket("eve", "session-eve", "slave-1", nonce="n1"))))
    assert received(b_transport)[0] == Error("bad_ticket", "invalid broadcast ticket")
    viewer, v_transport = connect(slave)
    viewer.dataReceived(start_view(forger.sign(ViewTicket("eve", "alice", "slave-1", "session-x1"))))
    assert received(v_transport)[0] == Error("bad_ticket", "invalid view ticket")
    assert len(slave.table) == 0


def test_viewing_a_broadcast_that_is_not_here():
    protocol, transport = connect(make_slave())
    protocol.dataReceived(start_view(view_ticket(target="carol")))
    assert received(transport)[0].code == "not_here"


def test_garbage_gets_an_error_and_a_close_while_others_carry_on():
    slave = make_slave()
    broadcaster, b_transport = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    intruder, i_transport = connect(slave)
    intruder.dataReceived(b"\x00garbage that is not framecast")
    (error,) = received(i_transport)
    assert error.code == "bad_magic" and i_transport.disconnecting
    broadcaster.dataReceived(frame(1))
    assert slave.table.get("alice").latest.seq == 1


def test_oversized_message_is_refused():
    protocol, transport = connect(make_slave())
    protocol.dataReceived(HEADER.pack(MAGIC, 1, T.FRAME, 0, 1 << 30))
    assert received(transport)[0].code == "too_large" and transport.disconnecting


def test_unknown_message_types_are_skipped():
    slave = make_slave()
    protocol, transport = connect(slave)
    protocol.dataReceived(encode(222, b"from the future") + start_broadcast(broadcast_ticket()))
    assert kinds(received(transport)) == [Accepted]


def test_a_dropped_broadcaster_keeps_its_broadcast_for_the_grace_period():
    slave = make_slave()
    protocol, _ = connect(slave)
    protocol.dataReceived(start_broadcast(broadcast_ticket()))
    protocol.connectionLost(None)
    assert slave.table.get("alice") is not None
    again, transport = connect(slave)
    again.dataReceived(start_broadcast(broadcast_ticket()))
    assert isinstance(received(transport)[0], Accepted)
    again.connectionLost(None)
    slave.reactor.advance(5)
    assert slave.table.get("alice") is None
    assert isinstance(slave.uplink.link.sent[-1], SessionRemove)


def test_a_clean_stop_ends_the_broadcast_and_tells_viewers():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    viewer, v_transport = connect(slave)
    viewer.dataReceived(start_view(view_ticket()))
    received(v_transport)
    broadcaster.dataReceived(BroadcastStop().encode())
    broadcaster.connectionLost(None)
    assert isinstance(received(v_transport)[0], BroadcastEnded)
    assert slave.table.get("alice") is None


def test_another_session_of_a_broadcasting_user_is_refused():
    slave = make_slave()
    first, _ = connect(slave)
    first.dataReceived(start_broadcast(broadcast_ticket()))
    second, transport = connect(slave)
    second.dataReceived(start_broadcast(broadcast_ticket(session="session-2")))
    assert received(transport)[0].code == "already_broadcasting"


def watched_once():
    """A broadcast here and a viewer that opened a session with its ticket."""
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    ticket = view_ticket(session="view-1-session")
    first, first_transport = connect(slave)
    first.dataReceived(start_view(ticket))
    assert isinstance(received(first_transport)[0], Accepted)
    return slave, ticket, first


def test_a_ticket_opens_one_viewer_session_only():
    slave, ticket, _ = watched_once()
    replay, transport = connect(slave)
    replay.dataReceived(start_view(ticket))
    assert received(transport)[0].code == "bad_ticket"


def test_a_view_ticket_opens_no_new_session_after_its_first_ends():
    slave, ticket, first = watched_once()
    first.connectionLost(None)
    assert slave.viewers.sessions == {}
    again, transport = connect(slave)
    again.dataReceived(start_view(ticket))
    assert received(transport)[0] == Error("bad_ticket", "this ticket was already used; ask a master again")
    assert slave.viewers.sessions == {}


def test_quiet_viewers_get_keepalives_and_silent_ones_are_dropped():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    paused, p_transport = connect(slave)
    paused.dataReceived(start_view(view_ticket()))
    paused.dataReceived(ViewerPause().encode())
    stalled, s_transport = connect(slave)
    stalled.dataReceived(start_view(view_ticket(user="carol")))
    broadcaster.dataReceived(frame(1))  # goes to carol, who never acknowledges it
    received(p_transport), received(s_transport)
    slave.reactor.advance(3)
    slave.viewer_control.check()
    assert kinds(received(p_transport)) == [Keepalive]
    assert received(s_transport) == []
    slave.reactor.advance(3)  # stall timeout is 20 s by default
    slave.config.stall_timeout = 5
    slave.viewer_control.check()
    assert received(s_transport)[0].code == "stalled"
    assert len(slave.table.get("alice").viewers) == 1


def test_a_broadcast_that_comes_back_after_moving_starts_afresh():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    viewer, _ = connect(slave)
    viewer.dataReceived(start_view(view_ticket()))
    broadcaster.dataReceived(BroadcastMoved().encode())
    old = slave.table.get("alice")
    assert old.life.state is State.MOVED
    back, transport = connect(slave)
    back.dataReceived(start_broadcast(broadcast_ticket()))
    assert isinstance(received(transport)[0], Accepted)
    assert slave.table.get("alice") is not old and slave.table.get("alice").life.state is State.LIVE


def test_a_broadcast_ticket_opens_one_connection_only():
    slave = make_slave()
    ticket = broadcast_ticket()
    first, _ = connect(slave)
    first.dataReceived(start_broadcast(ticket))
    replay, transport = connect(slave)
    replay.dataReceived(start_broadcast(ticket))
    assert received(transport)[-1] == Error("bad_ticket", "this ticket was already used; ask a master again")


def test_a_thrown_viewer_let_back_in_gets_in_once_the_tickets_from_before_the_throw_expired(monkeypatch):
    """Found by the chaos run: a viewer the broadcaster accepted again after a throw was
    refused ("alice removed you") by the slave for the whole ban (300 s), whatever the
    masters decided; the slave's ban is only there for the tickets signed before it."""
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    now = slave.reactor.seconds()
    slave.viewer_control.throw("alice", "bob", now + 300)
    viewer, transport = connect(slave)
    viewer.dataReceived(start_view(view_ticket(session="view-bob-before")))
    assert [m.code for m in received(transport) if isinstance(m, Error)] == [ErrorCode.REMOVED]
    slave.reactor.advance(SLAVE_KEYS.kept_for(ViewTicket) + 1)
    monkeypatch.setattr(time, "time", slave.reactor.seconds)  # the masters sign at that time too
    fresh = view_ticket(session="view-bob-after")  # signed once the broadcaster let bob back in
    viewer, transport = connect(slave)
    viewer.dataReceived(start_view(fresh))
    assert Accepted in kinds(received(transport))
