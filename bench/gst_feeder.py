"""GStreamer's ``tcpserversink`` fed framecast FRAME messages from stdin: the peer of
``fanout.py --peer``.

Runs under the system's Python with PyGObject (``/usr/bin/python3``; apt: python3-gi,
gir1.2-gstreamer-1.0, gstreamer1.0-plugins-base), not the project's virtual environment, so
it imports nothing of framecast. It reads a stream of framecast messages on stdin (10-byte
header, then ``length`` bytes of body) and pushes each whole message into ``appsrc`` as one
buffer, so every GStreamer buffer is one FRAME message:

    appsrc ! tcpserversink host=127.0.0.1 port=PORT sync=false
             sync-method=latest recover-policy=latest units-soft-max=SOFT_MAX

``sync-method=latest``: a new client starts at the newest buffer, i.e. at a message
boundary; ``recover-policy=latest``: a client more than SOFT_MAX buffers behind skips to the
newest one (the buffer it is writing is finished first), as the framecast slave gives a
slow viewer the newest frame. Readers need send nothing (tcpserversink has no protocol).

    /usr/bin/python3 bench/gst_feeder.py --port 5000 [--soft-max 4] < messages
"""

from __future__ import annotations

import argparse
import struct
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

HEADER = struct.Struct("!2sBBHI")  # as common/protocol.py


def read_exactly(stream, size: int) -> bytes | None:
    data = stream.read(size)
    while data is not None and 0 < len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            return None
        data += more
    return data if data and len(data) == size else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--soft-max", type=int, default=4, help="buffers a client may lag before it skips ahead")
    args = parser.parse_args()
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "appsrc name=src is-live=true format=bytes block=false max-bytes=0 "
        f"! tcpserversink name=sink host={args.host} port={args.port} sync=false async=false "
        f"sync-method=latest recover-policy=latest units-soft-max={args.soft_max}"
    )
    source = pipeline.get_by_name("src")
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        print("gst_feeder: the pipeline did not start", file=sys.stderr)
        return 1
    stdin = sys.stdin.buffer
    bus = pipeline.get_bus()
    try:
        while (header := read_exactly(stdin, HEADER.size)) is not None:
            magic, _, _, _, length = HEADER.unpack(header)
            if magic != b"FC":
                print("gst_feeder: stdin is not a stream of framecast messages", file=sys.stderr)
                return 1
            body = read_exactly(stdin, length) if length else b""
            if body is None:
                break
            if source.emit("push-buffer", Gst.Buffer.new_wrapped(header + body)) != Gst.FlowReturn.OK:
                print("gst_feeder: appsrc refused a buffer", file=sys.stderr)
                return 1
            message = bus.pop_filtered(Gst.MessageType.ERROR)
            if message is not None:
                print(f"gst_feeder: {message.parse_error()[0].message}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
