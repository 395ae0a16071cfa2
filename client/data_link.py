"""A sealed viewer's data connection (``common.messages.sealing``): the plain TCP connection
its slave sends sealed frames on, opened with the keys that came over TLS.

Every frame is checked against the slave's signature and opened with the broadcast's frame
key before it is shown; its acknowledgement carries this viewer's MAC. The slave sends a
viewer each frame once, newest last, so a frame no newer than the last one opened is a
replay by someone on the path, and refused. A frame sealed with
a key not yet here waits for it on the TLS connection (``Viewer``): the two connections
are not ordered with each other.
"""

from __future__ import annotations

from client.connection import Connection
from client.errors import ConnectionLost
from common.frame_seal import FrameOpener, SealError, encode_sealed_ack, from_text
from common.messages.sealing import DataAttach, FrameKey, SealedFrame, SealKeys
from common.messages.streaming import ImageFrame

KEY_SIZE = 32


class DataLink:
    def __init__(self, host: str, port: int, keys: SealKeys):
        try:
            self.opener = FrameOpener(from_text(keys.public_key, KEY_SIZE))
            self.ack_key = from_text(keys.ack_key, KEY_SIZE)
        except SealError as exc:
            raise ConnectionLost(f"the slave's keys for sealed frames are malformed: {exc}") from None
        self.conn = Connection(host, port, tls=False)
        self.conn.send(DataAttach(keys.data_token))
        self.last_seq = -1

    def add_key(self, message: FrameKey) -> None:
        try:
            self.opener.add_key(message.key_id, from_text(message.key, KEY_SIZE))
        except SealError as exc:
            raise ConnectionLost(f"the slave sent a malformed frame key: {exc}") from None

    def has_key_for(self, sealed: SealedFrame) -> bool:
        return self.opener.key_of(sealed.body) in self.opener.keys

    def open(self, sealed: SealedFrame) -> ImageFrame:
        """The frame inside; ``SealError`` if it is not what the slave signed and sealed, or
        a replay."""
        frame = ImageFrame.from_body(self.opener.open(sealed.body))
        if frame.seq <= self.last_seq:
            raise SealError(f"frame {frame.seq} again, after {self.last_seq}: a replay")
        self.last_seq = frame.seq
        return frame

    def ack(self, seq: int) -> None:
        self.conn.send_bytes(encode_sealed_ack(self.ack_key, seq))

    def close(self) -> None:
        self.conn.close()
