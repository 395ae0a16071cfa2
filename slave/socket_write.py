"""Writing a frame to a viewer's socket at once when nothing is queued before it.

Twisted's ``transport.write`` always queues data and waits for the reactor to report the
socket writable, which costs two epoll registrations and a reactor turn per write. For the
fan-out, that is per frame per viewer and was the largest single cost of a slave (profile
in bench/README.md). When the transport has nothing queued, the frame is offered to the
socket directly; whatever the kernel does not take is queued through ``transport.write`` as
usual, so ordering, back-pressure (the producer is paused past the buffer size) and error
handling stay Twisted's. This relies on ``FileDescriptor``'s buffer attributes (``dataBuffer``,
``offset``, ``_tempDataLen``), which the test suite exercises on every run.
"""

from __future__ import annotations

from typing import Callable


def direct_writer(transport) -> Callable[[bytes], None]:
    """A write function for one TCP transport that skips the queue when it is empty."""
    sock = transport.socket
    queue_write = transport.write

    def write(data: bytes) -> None:
        if transport._tempDataLen or len(transport.dataBuffer) - transport.offset or not transport.connected:
            queue_write(data)
            return
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            queue_write(data)  # Twisted notices the error and closes the connection
            return
        if sent < len(data):
            queue_write(data[sent:])

    return write
