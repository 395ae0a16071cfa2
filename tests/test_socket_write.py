"""A stalled viewer's partial write (``common.socket_write``) holds a view of the shared frame,
not a copy of its rest, and keeps Twisted's ordering and back-pressure. Real sockets with a
tiny send buffer; the reactor is a ``MemoryReactor`` and the test plays its part."""

import socket
import tracemalloc

from twisted.internet import main, tcp
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor

from common.socket_write import direct_writer

FRAME = bytes(range(256)) * 4096  # 1 MiB, shared by every viewer
VIEWERS = 20


class Producer:
    def __init__(self):
        self.paused = False

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False

    def stopProducing(self):
        pass


def stalled_viewer(reactor):
    """A transport on one end of a socketpair whose other end does not read yet."""
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.setblocking(False)
    transport = tcp.Connection(ours, Protocol(), reactor)
    transport.connected = True
    producer = Producer()
    transport.registerProducer(producer, True)
    return transport, theirs, producer, direct_writer(transport)


def drain(reactor, transport, theirs, outcome=None) -> bytes:
    """Read the peer's end while the reactor would call ``doWrite`` (bounded); what
    ``doWrite`` returned besides None (a closed connection) goes into ``outcome``."""
    theirs.setblocking(False)
    received = bytearray()
    for _ in range(100_000):
        if transport in reactor.getWriters():
            result = transport.doWrite()
            if result is not None and outcome is not None:
                outcome.append(result)
        try:
            received += theirs.recv(1 << 20)
        except BlockingIOError:
            if transport not in reactor.getWriters():
                return bytes(received)
    raise AssertionError("the frame never drained")


def test_stalled_viewers_hold_a_view_of_the_shared_frame_not_a_copy():
    reactor = MemoryReactor()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        viewers = [stalled_viewer(reactor) for _ in range(VIEWERS)]
        for _, _, _, write in viewers:
            write(FRAME)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 256 * 1024, f"{VIEWERS} stalled viewers of a 1 MiB frame grew the heap by {grown} bytes"
    for transport, _, producer, write in viewers:
        rest = transport.doWrite.__self__.rest
        assert rest.obj is FRAME and 0 < len(rest) < len(FRAME)
        assert transport.dataBuffer == b"" and transport._tempDataLen == 0
        assert producer.paused and transport in reactor.getWriters()
    for transport, theirs, _, _ in viewers:
        transport.socket.close()
        theirs.close()


def test_the_rest_of_a_frame_goes_out_before_later_writes_then_the_producer_resumes():
    reactor = MemoryReactor()
    transport, theirs, producer, write = stalled_viewer(reactor)
    write(FRAME)
    write(b"after the frame")
    assert transport._tempDataLen == len(b"after the frame")
    assert drain(reactor, transport, theirs) == FRAME + b"after the frame"
    assert transport.doWrite.__self__.rest is None and not producer.paused and transport not in reactor.getWriters()
    write(b"direct")
    assert theirs.recv(100) == b"direct"
    transport.socket.close()
    theirs.close()


def test_a_lone_frame_drains_then_the_producer_resumes_and_a_pending_close_completes():
    reactor = MemoryReactor()
    transport, theirs, producer, write = stalled_viewer(reactor)
    write(FRAME)
    assert drain(reactor, transport, theirs) == FRAME
    assert not producer.paused and transport not in reactor.getWriters()
    write(FRAME)
    transport.loseConnection()
    outcome = []
    assert drain(reactor, transport, theirs, outcome) == FRAME
    assert outcome == [main.CONNECTION_DONE], "the close completes once the frame is out"
    theirs.close()


def test_the_producer_is_paused_by_twisteds_rule_past_the_buffer_size():
    reactor = MemoryReactor()
    transport, theirs, producer, write = stalled_viewer(reactor)
    small = FRAME[: transport.bufferSize // 2]
    write(small)
    assert transport.doWrite.__self__.rest.obj is small and not producer.paused
    write(b"later")
    assert drain(reactor, transport, theirs) == small + b"later"
    transport.socket.close()
    theirs.close()
