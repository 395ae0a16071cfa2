"""MJPEG viewers on the slave (O5) with an in-memory request: the flow control of a player
that sends no ACK is the socket draining, so a stalled player holds one frame, not a backlog."""

from __future__ import annotations

import secrets

from twisted.internet.defer import Deferred
from twisted.internet.testing import StringTransport

from common.messages.streaming import BroadcastStart
from common.protocol import Codec, FrameInfo, encode_frame
from common.tokens import BroadcastTicket, ViewTicket
from slave.fanout import Frame
from slave.http_viewers import BOUNDARY, MjpegViewer
from tests.test_slave_protocol import SIGNER, connect, make_slave


class FakeChannel:
    def __init__(self):
        self.transport = StringTransport()


class FakeRequest:
    """What ``MjpegViewer`` uses of a Twisted Web request."""

    def __init__(self):
        self.channel = FakeChannel()
        self.headers: dict[bytes, bytes] = {}
        self.written: list[bytes] = []
        self.producer = None
        self.finished = False
        self._disconnected = False
        self._finish = Deferred()

    def setHeader(self, name, value):
        self.headers[name] = value

    def write(self, data):
        self.written.append(data)

    def registerProducer(self, producer, streaming):
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None

    def notifyFinish(self):
        return self._finish

    def finish(self):
        self.finished = True
        self._finish.callback(None)


def broadcast_with_player():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    ticket = SIGNER.sign(BroadcastTicket("alice", "sess-alice", "slave-1", (), secrets.token_urlsafe(9)))
    broadcaster.dataReceived(BroadcastStart(ticket).encode())
    request = FakeRequest()
    player = MjpegViewer(slave.client_services, request)
    player.start(SIGNER.sign(ViewTicket("bob", "alice", "slave-1", "sess-bob-1")))
    return slave, slave.table.get("alice"), player, request


def publish(broadcast, seq: int) -> None:
    body = encode_frame(FrameInfo(seq, 1000.0 + seq, 4, 4, Codec.JPEG), b"\xff\xd8jpeg%d\xff\xd9" % seq)
    broadcast.publish(Frame(seq, 1000.0 + seq, body))


def test_frames_flow_while_the_socket_drains():
    slave, broadcast, player, request = broadcast_with_player()
    assert request.headers[b"Content-Type"] == b"multipart/x-mixed-replace; boundary=" + BOUNDARY
    for seq in range(1, 4):
        publish(broadcast, seq)
    assert [b"X-Frame-Seq: %d" % seq in part for seq, part in zip(range(1, 4), request.written)] == [True] * 3
    assert request.written[0].endswith(b"\xff\xd8jpeg1\xff\xd9\r\n")


def test_a_stalled_player_holds_one_frame_and_gets_the_newest_next():
    slave, broadcast, player, request = broadcast_with_player()
    player.pauseProducing()  # the socket buffer is full: frame 1 is the last one handed over
    for seq in range(1, 50):
        publish(broadcast, seq)
    assert len(request.written) == 1
    stream = broadcast.viewers[player]
    assert stream.waiting.seq == 49  # only the newest waits; nothing else is kept for this player
    player.resumeProducing()
    assert len(request.written) == 2 and b"X-Frame-Seq: 49" in request.written[1]
    assert stream.skipped["in_flight"] == 47


def test_the_part_is_built_once_and_shared_by_every_player():
    slave, broadcast, player, request = broadcast_with_player()
    other = FakeRequest()
    MjpegViewer(slave.client_services, other).start(SIGNER.sign(ViewTicket("carol", "alice", "slave-1", "sess-carol")))
    publish(broadcast, 1)
    assert request.written[-1] is other.written[-1]


def test_a_closed_player_leaves_the_broadcast():
    slave, broadcast, player, request = broadcast_with_player()
    request._finish.errback(ConnectionError("gone"))
    assert player not in broadcast.viewers
    assert "sess-bob-1" not in slave.viewers.sessions


def test_a_player_is_let_go_when_the_broadcast_moves():
    """A drain sends viewers after the broadcast: an MJPEG stream ends, so the player comes
    back through the master's URL at once (it cannot read a MOVE)."""
    slave, broadcast, player, request = broadcast_with_player()
    publish(broadcast, 1)
    slave.lifecycle.moved(broadcast)
    assert request.finished and player not in broadcast.viewers
