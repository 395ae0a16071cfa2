"""Relays on the slave (C10) over in-memory transports and a hand-driven clock: the upstream
side of a pull, frames passing through unchanged, rerouting a slow or lost upstream, and
a relay's life from its first viewer to its last."""

from twisted.internet.testing import StringTransport

from common.messages.cluster import RelayLink, SessionAdd, SessionKind
from common.messages.relay import RelayStart, RelayUpstream, RelayUpstreamRequest
from common.messages.streaming import Accepted, ImageFrame, Move, Reconnect
from common.protocol import encode_ack
from common.signing import Signer
from common.tokens import RelayTicket, ViewTicket
from slave.broadcast_life import State
from slave.relay import ACCEPT_WITHIN
from slave.relay_link import RelayLinkProtocol
from tests.test_slave_protocol import (
    SIGNER,
    broadcast_ticket,
    connect,
    frame,
    kinds,
    make_slave,
    received,
    start_broadcast,
    start_view,
)


def relay_ticket(relay="slave-2", upstream="slave-1", signer=SIGNER):
    return signer.sign(RelayTicket("alice", upstream, relay))


def origin_with_broadcast():
    slave = make_slave()
    broadcaster, _ = connect(slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    slave.uplink.link.sent.clear()
    return slave, broadcaster


def test_an_upstream_serves_a_relay_as_a_viewer_without_a_viewer_session():
    slave, broadcaster = origin_with_broadcast()
    broadcaster.dataReceived(frame(1))
    relay, transport = connect(slave)
    relay.dataReceived(RelayStart(relay_ticket()).encode())
    assert kinds(received(transport)) == [Accepted, ImageFrame]
    assert slave.uplink.link.sent == [] and slave.viewers.sessions == {}
    broadcaster.dataReceived(frame(2) + frame(3))
    assert received(transport) == []  # one frame in flight: the relay's ack comes first
    relay.dataReceived(encode_ack(1))
    (sent,) = received(transport)
    assert sent.seq == 3
    relay.connectionLost(None)
    assert slave.uplink.link.sent == [] and slave.table.get("alice").viewers == {}


def test_relay_tickets_are_checked():
    slave, _ = origin_with_broadcast()
    for ticket, code in (
        (relay_ticket(upstream="slave-9"), "wrong_slave"),
        (relay_ticket(signer=Signer("other")), "bad_ticket"),
        (SIGNER.sign(ViewTicket("bob", "alice", "slave-1", "session-b1")), "bad_ticket"),
    ):
        relay, transport = connect(slave)
        relay.dataReceived(RelayStart(ticket).encode())
        assert received(transport)[0].code == code


class Relay:
    """A relay slave whose connections to upstreams are in-memory transports."""

    def __init__(self):
        self.slave = make_slave()
        self.links: list[tuple[RelayLinkProtocol, StringTransport]] = []
        self.viewers = []

    def view(self, name="bob", upstream="slave-0"):
        ticket = ViewTicket(name, "alice", "slave-1", f"view-{name}-session", upstream=upstream, upstream_addr="h:1")
        viewer, transport = connect(self.slave)
        viewer.dataReceived(start_view(SIGNER.sign(ticket)))
        self.viewers.append((viewer, transport))
        return viewer, transport

    @property
    def pull(self):
        return self.slave.relays.pulls()["alice"]


def connecting(monkeypatch, relay: Relay) -> None:
    """RelayPull.connect opens an in-memory link instead of a TCP connection."""
    from slave import relay as module

    def connect(pull, upstream, addr, depth):
        link = RelayLinkProtocol(pull, upstream, "ticket", pull.parts.reactor)
        if pull.pending is not None:
            pull.pending.close()
        pull.pending, pull.depth, pull.pending_since = link, depth, pull.parts.reactor.seconds()
        transport = StringTransport()
        link.makeConnection(transport)
        relay.links.append((link, transport))

    monkeypatch.setattr(module.RelayPull, "connect", connect)


def accept(link):
    link.dataReceived(Accepted("alice", "h:1").encode())


def test_frames_pass_through_unchanged_and_the_last_viewer_stops_the_pull(monkeypatch):
    relay = Relay()
    connecting(monkeypatch, relay)
    viewer, v_transport = relay.view()
    link, l_transport = relay.links[0]
    assert isinstance(received(l_transport)[0], RelayStart)
    accept(link)
    link.dataReceived(frame(7))
    assert l_transport.value() == encode_ack(7)  # the relay acknowledges as a viewer does
    (got,) = [m for m in received(v_transport) if isinstance(m, ImageFrame)]
    assert got.encode() == frame(7)  # same bytes: sequence number and capture time unchanged
    assert relay.slave.reporter.heartbeat().relays == (RelayLink("alice", "slave-0"),)
    assert relay.slave.reporter.session_table().broadcasts == ()
    assert [m for m in relay.slave.uplink.link.sent if isinstance(m, SessionAdd)][0].kind == SessionKind.VIEW
    viewer.connectionLost(None)
    assert len(relay.slave.table) == 0 and relay.slave.relays.pulls() == {}
    assert l_transport.disconnecting


def test_a_slow_upstream_is_replaced_make_before_break(monkeypatch):
    relay = Relay()
    connecting(monkeypatch, relay)
    relay.view()
    clock = relay.slave.reactor
    old, old_transport = relay.links[0]
    accept(old)
    for seq in range(1, 60, 3):  # a third of the frames get through, for 4 s
        clock.advance(0.2)
        old.dataReceived(frame(seq))
    asked = [m for m in relay.slave.uplink.link.sent if isinstance(m, RelayUpstreamRequest)]
    assert asked == [RelayUpstreamRequest("alice", "slave-0")]
    relay.slave.relays.answered(RelayUpstream("alice", "slave-5", "h:5", 1))
    new, _ = relay.links[1]
    assert not old_transport.disconnecting  # the old upstream feeds the viewers meanwhile
    accept(new)
    assert old_transport.disconnecting and relay.pull.upstream == "slave-5"
    assert relay.slave.relays.upstream_switches() == 1 and relay.slave.relays.max_depth() == 1


def test_a_lost_upstream_is_replaced_and_an_unanswered_one_gives_up(monkeypatch):
    relay = Relay()
    connecting(monkeypatch, relay)
    viewer, v_transport = relay.view()
    link, _ = relay.links[0]
    accept(link)
    link.dataReceived(Move("drained").encode())
    assert relay.slave.uplink.link.sent[-1] == RelayUpstreamRequest("alice", "slave-0")
    relay.slave.relays.answered(RelayUpstream("alice", "slave-0", "h:1", 1))
    pending, _ = relay.links[1]
    relay.slave.reactor.advance(ACCEPT_WITHIN + 0.5)  # never accepted: asked again
    assert relay.slave.uplink.link.sent[-1] == RelayUpstreamRequest("alice", "slave-0")
    assert relay.pull.pending is None
    received(v_transport)
    for _ in range(30):
        relay.slave.reactor.advance(0.5)  # no master knows an upstream for the grace
    assert isinstance(received(v_transport)[-1], Reconnect)
    assert len(relay.slave.table) == 0


def test_the_broadcaster_arriving_at_a_relay_makes_it_the_origin(monkeypatch):
    relay = Relay()
    connecting(monkeypatch, relay)
    viewer, v_transport = relay.view()
    accept(relay.links[0][0])
    broadcaster, _ = connect(relay.slave)
    broadcaster.dataReceived(start_broadcast(broadcast_ticket()))
    assert relay.slave.relays.pulls() == {} and relay.links[0][1].disconnecting
    broadcast = relay.slave.table.get("alice")
    assert broadcast.life.state is State.LIVE and len(broadcast.viewers) == 1
    assert relay.slave.uplink.link.sent[-1] == SessionAdd(SessionKind.BROADCAST, "alice", "session-1")
    broadcaster.dataReceived(frame(1))
    assert any(isinstance(m, ImageFrame) for m in received(v_transport))
