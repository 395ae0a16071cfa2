"""A slave's drain and moves in process (C7), over in-memory transports and a hand-driven
clock: viewers of a broadcast whose broadcaster is away are sent after it at once, the
deadline sends everyone back through the masters, and a broadcaster seen elsewhere takes
the viewers kept here along."""

from common.messages.cluster import Heartbeat, SessionKind, SessionRemove, SlaveState
from common.messages.streaming import Migrate, Move, Reconnect
from slave.broadcast_life import State
from tests.test_slave_protocol import (
    broadcast_ticket,
    connect,
    make_slave,
    received,
    start_broadcast,
    start_view,
    view_ticket,
)


class Link:
    """A master link that is up and answering."""

    def __init__(self):
        self.sent = []

    def report(self, message):
        self.sent.append(message)

    def check_alive(self, timeout):
        pass


def slave_with_viewer(broadcaster_connected=True):
    slave = make_slave()
    slave.uplink.link = Link()
    broadcaster, b_transport = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    viewer, v_transport = connect(slave)
    viewer.dataReceived(start_view(view_ticket()))
    received(v_transport), received(b_transport)
    if not broadcaster_connected:
        broadcaster.connectionLost(None)  # dropped: in its grace period
    return slave, (broadcaster, b_transport), (viewer, v_transport)


def heartbeats(slave):
    return [m for m in slave.uplink.link.sent if isinstance(m, Heartbeat)]


def test_a_drain_asks_broadcasters_to_migrate_and_sends_viewers_of_an_absent_one_after_it():
    slave, _, (viewer, v_transport) = slave_with_viewer(broadcaster_connected=False)
    assert slave.table.get("alice").life.state is State.ORPHANED
    exited = []
    slave.draining.start(on_empty=lambda: exited.append(True))
    assert heartbeats(slave)[0].state == SlaveState.DRAINING and heartbeats(slave)[0].exiting
    assert [type(m) for m in received(v_transport)] == [Move]
    removed = [m for m in slave.uplink.link.sent if isinstance(m, SessionRemove)]
    assert removed == [SessionRemove(SessionKind.BROADCAST, "alice", "session-1")]
    viewer.connectionLost(None)  # it followed the broadcast
    assert len(slave.table) == 0
    slave.reactor.advance(0.1)
    assert slave.status.state == SlaveState.DRAINED and exited == [True]


def test_a_connected_broadcaster_is_asked_to_migrate_and_the_deadline_sends_everyone_away():
    slave, (_, b_transport), (_, v_transport) = slave_with_viewer()
    slave.draining.start(deadline=5)
    assert [type(m) for m in received(b_transport)] == [Migrate]
    slave.reactor.advance(5)
    assert [type(m) for m in received(b_transport)] == [Reconnect]
    assert [type(m) for m in received(v_transport)] == [Reconnect]
    assert len(slave.table) == 0 and slave.viewers.sessions == {} and slave.status.state == SlaveState.DRAINED
    assert not heartbeats(slave)[-1].exiting


def test_an_undrain_puts_the_slave_back_and_the_broadcast_carries_on():
    slave, _, _ = slave_with_viewer()
    slave.draining.start()
    slave.draining.undrain()
    assert slave.status.live and heartbeats(slave)[-1].state == SlaveState.LIVE
    assert slave.table.get("alice").life.state is State.LIVE


def test_a_broadcaster_back_elsewhere_takes_the_viewers_kept_here_along():
    slave, _, (viewer, v_transport) = slave_with_viewer(broadcaster_connected=False)
    slave.lifecycle.elsewhere("alice", "another-session")
    assert received(v_transport) == []  # another broadcast of hers: not this one
    slave.lifecycle.elsewhere("alice", "session-1")
    assert [type(m) for m in received(v_transport)] == [Move]
    broadcast = slave.table.get("alice")
    assert broadcast.life.state is State.MOVED
    viewer.connectionLost(None)
    assert broadcast.life.state is State.ENDED and slave.table.get("alice") is None
    slave.reactor.advance(10)  # the grace timer went with the move
    assert [m for m in slave.uplink.link.sent if isinstance(m, SessionRemove) and m.kind == SessionKind.BROADCAST] == [
        SessionRemove(SessionKind.BROADCAST, "alice", "session-1")
    ]


def test_elsewhere_leaves_a_connected_broadcaster_alone():
    slave, _, (_, v_transport) = slave_with_viewer()
    slave.lifecycle.elsewhere("alice", "session-1")
    assert received(v_transport) == [] and slave.table.get("alice").life.state is State.LIVE
