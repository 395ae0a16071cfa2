"""Writing a frame to a viewer's socket at once when nothing is queued before it.

Twisted's ``transport.write`` always queues data and waits for the reactor to report the
socket writable, which costs two epoll registrations and a reactor turn per write. For the
fan-out, that is per frame per viewer and was the largest single cost of a slave (profile
in bench/README.md). When the transport has nothing queued, the frame is offered to the
socket directly.

Whatever the kernel does not take is held as a view of the shared frame, never a copy:
Twisted's buffer would copy the rest of the frame per stalled viewer (``write`` wants
``bytes`` and ``doWrite`` joins what it holds). The transport is registered for writing and
its ``doWrite`` first sends the rest of the frame and resumes the producer, then hands
over to Twisted's own if anything was queued since (ordering) or a close is pending, or
else stops writing (Twisted's would make an empty send). Back-pressure is Twisted's: the
viewer's producer is paused when what is held exceeds the transport's buffer size (the
fan-out sends a viewer nothing more before its acknowledgement anyway). This relies on
``FileDescriptor``'s buffer attributes (``dataBuffer``, ``offset``, ``_tempDataLen``,
``producerPaused``, ``bufferSize``), which the test suite exercises on every run.
"""

from __future__ import annotations

from typing import Callable


class HeldRest:
    """The unsent end of one frame on one transport, and the ``doWrite`` that sends it."""

    __slots__ = ("transport", "rest", "_twisted_do_write")

    def __init__(self, transport):
        self.transport = transport
        self.rest: memoryview | None = None
        self._twisted_do_write = transport.doWrite
        transport.doWrite = self.do_write

    def hold(self, rest: memoryview) -> None:
        transport = self.transport
        self.rest = rest
        transport.startWriting()
        producer = transport.producer
        if (
            producer is not None
            and transport.streamingProducer
            and not transport.producerPaused
            and len(rest) > transport.bufferSize
        ):
            transport.producerPaused = True  # Twisted's rule: paused past its buffer size
            producer.pauseProducing()

    def do_write(self):
        """The socket is writable: the held rest of a frame first, then Twisted's queue."""
        rest = self.rest
        if rest is None:
            return self._twisted_do_write()
        transport = self.transport
        written = transport.writeSomeData(rest)
        if isinstance(written, Exception):
            self.rest = None  # the connection is lost: let the frame go
            return written
        if written < len(rest):
            self.rest = rest[written:]
            return None
        self.rest = None
        producer = transport.producer
        if producer is not None and transport.producerPaused and not transport._isSendBufferFull():
            transport.producerPaused = False
            producer.resumeProducing()  # may write the next frame at once
        if self.rest is not None:
            return None  # the next frame is held in turn
        if transport._tempDataLen or transport.disconnecting or transport._writeDisconnecting:
            return self._twisted_do_write()  # more to write, or a close to complete
        transport.stopWriting()  # as Twisted's doWrite would, without its empty send
        return None


def direct_writer(transport) -> Callable[[bytes], None]:
    """A write function for one TCP transport that skips the queue when it is empty; on a
    ``common.direct_tls`` connection that is TLS its ``send_now`` encrypts as it sends."""
    send = transport.send_now if getattr(transport, "secure", False) else transport.socket.send
    queue_write = transport.write
    held = HeldRest(transport)

    def write(data: bytes) -> None:
        if (
            held.rest is not None
            or transport._tempDataLen
            or len(transport.dataBuffer) - transport.offset
            or not transport.connected
        ):
            queue_write(data)
            return
        try:
            sent = send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            queue_write(data)  # Twisted notices the error and closes the connection
            return
        if sent < len(data):
            held.hold(memoryview(data)[sent:])

    return write
