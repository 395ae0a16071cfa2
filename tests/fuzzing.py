"""A seeded fuzzer for every port of the master and the slave, in-process.

Each case is a burst of messages written to a protocol over Twisted's ``StringTransport``:
random bytes, well-formed messages of every registered type whose fields hold random
values (valid tokens and tickets among them, so handlers run past the login), and
byte-level mutations of those (flips, cuts, splices, bad lengths). The targets:

* ``master``: the client port, on the in-memory store, with a database that is always
  unavailable or (``database=``) a real PostgreSQL database, so what reaches the SQL is
  fuzzed too;
* ``slave``: the slave's client port, a real ``Slave`` on a ``Clock``;
* ``slave-port``: the masters' port for slaves (hello, heartbeats, reports);
* ``web`` and ``slave-web`` (``HttpFuzzer``): the masters' and the slaves' web fronts, HTTP
  requests and WebSocket frames carrying framecast messages;
* ``PeerFuzzer``: the broadcaster's turbo peer server, over real TLS on loopback.

A crash is an exception out of ``dataReceived``, or anything logged with a failure (a
handler's internal error, an unhandled error in a Deferred); clear refusals (ERROR
answers, HTTP 4xx, closed connections) are the expected outcome.

``tests/test_fuzz.py`` runs short seeded runs; ``bench/fuzz.py`` runs 10^6 messages.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import struct
import time
from unittest import mock

from itsdangerous.timed import TimestampSigner
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher

from common.errors import ErrorCode, RequestError
from common.messages.accounts import OperatorRequest
from common.messages.cluster import Heartbeat, SlaveHello, SlaveState
from common.messages.schema import REGISTRY
from common.protocol import FRAME_HEADER, HEADER, Decoder, MessageType, encode, encode_ack
from common.tokens import BroadcastTicket, LoginClaims, NodeKeys, OperatorProof, SlaveProof, ViewTicket
from master.node import Master, MasterConfig
from master.ports.client_port import MasterClientProtocol
from master.ports.slave_port import SlaveLinkProtocol
from master.storage.db.tables import DatabaseTables
from master.storage.memory_store import MemoryStore
from slave.client_port import SlaveClientProtocol
from slave.config import SlaveConfig
from slave.node import Slave

SIGNER = NodeKeys.for_master("fuzz-secret")
USERS = ("alice", "bob")
MESSAGES_PER_CONNECTION = 16


class UnavailableDatabase:
    """PostgreSQL that is always down: every query is a clear refusal."""

    async def run(self, txn, *args):
        raise RequestError(ErrorCode.UNAVAILABLE, "the user database is unavailable; try again shortly")


PROTOCOLS = {"master": MasterClientProtocol, "slave": SlaveClientProtocol, "slave-port": SlaveLinkProtocol}


class Fuzzer:
    """Feeds ``target`` (a key of ``PROTOCOLS``) random and mutated messages from ``seed``;
    ``database``: the master's (default: one that is always unavailable)."""

    def __init__(self, target: str, seed: int, database=None):
        self.target = target
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.clock.advance(time.time())  # the nodes' time: it starts now and runs ahead
        self.database = database or UnavailableDatabase()
        self.node = self._slave() if target == "slave" else self._master()
        self.crashes: list[str] = []
        self.answers: collections.Counter[int] = collections.Counter()  # message type -> count
        self.messages = 0
        self.protocol = self.transport = None
        protocol_class = PROTOCOLS[target]
        self._handled = [(cls.TYPE, cls) for cls in protocol_class.handlers if getattr(cls, "_specs", None) is not None]
        self._sent_on_connection = 0

    # --- the nodes under test -------------------------------------------------------
    def _master(self) -> Master:
        config = MasterConfig("m1", "m1:5101", "m1:5201", dead_after=1e9)  # one heartbeat keeps a slave live
        return Master(config, MemoryStore(), DatabaseTables.on(self.database), SIGNER, self.clock)

    def _slave(self) -> Slave:
        slave = Slave(SlaveConfig(id="slave-1", addr="127.0.0.1:1", grace=5), SIGNER, self.clock)
        slave.uplink.link = _Reports()
        return slave

    def _connect(self) -> None:
        if self.protocol is not None:
            self.protocol.connectionLost(None)
        self.protocol, self.transport = self._protocol(), StringTransport()
        self.protocol.makeConnection(self.transport)
        self._sent_on_connection = 0

    def _protocol(self):
        if self.target == "master":
            return MasterClientProtocol(self.node.client_services, self.clock)
        if self.target == "slave-port":
            return SlaveLinkProtocol(self.node.slave_services, self.clock)
        return SlaveClientProtocol(self.node.client_services, self.clock)

    def sign(self, credential) -> str:
        """``credential`` signed at the nodes' time, which runs ahead of the real one."""
        with mock.patch.object(TimestampSigner, "get_timestamp", lambda _: int(self.clock.seconds())):
            return SIGNER.sign(credential)

    # --- running ----------------------------------------------------------------------
    def run(self, messages: int) -> float:
        """Send ``messages`` messages; returns the seconds it took. Crashes are collected."""
        return asyncio.run(self._run(messages))

    async def _run(self, messages: int) -> float:
        """On an asyncio loop, as under the asyncio reactor: the store's coroutines run as
        tasks, one loop turn after each message, so requests finish while others arrive."""
        globalLogPublisher.addObserver(self._observe)
        started = time.perf_counter()
        try:
            if self.target != "slave":  # a live slave, for placements and redirects
                beat = Heartbeat(load=0, broadcasts=0, viewers=0, state=SlaveState.LIVE)
                await ensureDeferred(self.node.registry.heartbeat(_Link(), beat)).asFuture(asyncio.get_running_loop())
            while self.messages < messages:
                self._one()
                await asyncio.sleep(0)
            for _ in range(100):  # the last requests finish (loop turns, not time)
                await asyncio.sleep(0)
        finally:
            globalLogPublisher.removeObserver(self._observe)
        return time.perf_counter() - started

    def _one(self) -> None:
        if self.protocol is None or self.transport.disconnecting or self._sent_on_connection >= MESSAGES_PER_CONNECTION:
            self._connect()
        data = self.case()
        self.messages += 1
        self._sent_on_connection += 1
        try:
            self.protocol.dataReceived(data)
        except Exception as exc:
            self.crashes.append(f"{type(exc).__name__}: {exc} on {data[:80]!r}")
        self._count_answers()
        self.clock.advance(self.rng.choice((0, 0, 0, 0.5, 3, 11)))

    def _count_answers(self) -> None:
        for message in Decoder().feed(self.transport.value()):
            self.answers[message.type] += 1
        self.transport.clear()

    def _observe(self, event: dict) -> None:
        if event.get("log_failure") is not None:
            self.crashes.append(event["log_failure"].getTraceback())

    # --- cases --------------------------------------------------------------------------
    def case(self) -> bytes:
        rng = self.rng
        kind = rng.random()
        if kind < 0.1:
            return rng.randbytes(rng.randrange(64))
        message = self.message()
        if kind < 0.55:
            return message
        return self.mutate(message)

    def message(self) -> bytes:
        """A framed message: usually one this protocol handles, with plausible field values
        (signed tokens, tickets and proofs) of which one may be hostile; sometimes any
        registered type with random values."""
        rng = self.rng
        if self.target == "slave" and rng.random() < 0.3:
            return self._frame_or_ack()
        if rng.random() < 0.8:
            msg_type, cls = rng.choice(self._handled)
            fields = {s.name: self.plausible(s.name) for s in cls._specs if s.required or rng.random() < 0.3}
            if cls is OperatorRequest and rng.random() < 0.8:  # a proof made for this very command
                fields["proof"] = self.sign(OperatorProof.fresh(fields["command"], fields.get("slave")))
            if fields and rng.random() < 0.3:
                fields[rng.choice(list(fields))] = self.value("")
        else:
            msg_type, cls = rng.choice(_REGISTERED)
            fields = {spec.name: self.value(spec.name) for spec in getattr(cls, "_specs", ()) if rng.random() < 0.9}
        return encode(msg_type, json.dumps(fields, allow_nan=True).encode())

    def plausible(self, name: str):
        rng = self.rng
        make = {
            "token": lambda: self.sign(LoginClaims(rng.choice(USERS))),
            "proof": self._proof,
            "ticket": self._ticket,
            "session": lambda: f"session-{rng.randrange(100):06d}",
            "password": lambda: "password-123",
            "command": lambda: rng.choice(("drain", "undrain", "rebalance")),
            "slave": lambda: "slave-1",
            "move_from": lambda: "slave-1",
            "lost": lambda: "slave-1",
            "turbo_port": lambda: rng.randrange(1024, 65536),
            "turbo_hosts": lambda: ["127.0.0.1"],
            "speed_kbps": lambda: rng.choice((100, 500.0, 20000)),
            "link": lambda: rng.choice(("dsl", "lan", "mobile")),
            "text": lambda: "hello",
            "client_id": lambda: f"c-{rng.randrange(10**6)}",
            "key": lambda: rng.choice(("quality", "fps", "nosuch")),
            "list": lambda: rng.choice(("allow", "ignore")),
            "answer": lambda: rng.choice(("accept", "deny", "always", "ignore")),
            "room": lambda: rng.choice(("#lobby", "#room-1")),
        }.get(name)
        if make is not None:
            return make()
        if name in ("user", "target", "viewer", "to", "peer", "with_user"):
            return rng.choice(USERS)
        if name == "id":
            return rng.choice(("slave-1", "slave-2"))
        if name in ("add", "join", "messages", "presence", "allowed", "p2p"):
            return rng.random() < 0.5
        return rng.randrange(20)  # since, up_to, limit, deadline, bytes, value

    def _proof(self) -> str:
        if self.target == "slave-port":
            return self.sign(SlaveProof(self.rng.choice(("slave-1", "slave-2"))))
        return self.sign(OperatorProof.fresh(OperatorProof.STATUS))

    def _frame_or_ack(self) -> bytes:
        rng = self.rng
        seq = rng.choice((0, 1, 2, 2**31, 2**64 - 1, rng.randrange(100)))
        if rng.random() < 0.5:
            return encode_ack(seq)
        capture_time = rng.choice((0.0, time.time(), float("nan"), -1e300))
        header = FRAME_HEADER.pack(seq, capture_time, rng.randrange(2**16), rng.randrange(2**16), rng.randrange(256))
        return encode(
            MessageType.FRAME, header[: rng.randrange(FRAME_HEADER.size + 1)] + rng.randbytes(rng.randrange(64))
        )

    def value(self, name: str):
        """A value for field ``name``: sometimes valid-looking, often hostile."""
        rng = self.rng
        if name and rng.random() < 0.3:
            return self.plausible(name)
        return rng.choice(_HOSTILE)() if rng.random() < 0.5 else rng.choice(_PLAIN)(rng)

    def _ticket(self) -> str:
        rng = self.rng
        user, viewer = rng.sample(USERS, 2)
        session = f"session-{rng.randrange(100):06d}"
        if rng.random() < 0.5:
            return self.sign(BroadcastTicket(user, session, "slave-1", nonce=f"n{rng.randrange(10**9)}"))
        return self.sign(ViewTicket(viewer, user, "slave-1", session))

    def mutate(self, data: bytes) -> bytes:
        rng = self.rng
        buf = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(5)
            if op == 0 and buf:
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            elif op == 1:
                del buf[rng.randrange(len(buf) + 1) :]
            elif op == 2:
                at = rng.randrange(len(buf) + 1)
                buf[at:at] = rng.randbytes(rng.randrange(1, 16))
            elif op == 3 and len(buf) >= HEADER.size:  # a lying length field (the header's last)
                struct.pack_into("!I", buf, HEADER.size - 4, rng.choice((0, 1, 2**16, 2**31, 2**32 - 1)))
            else:
                buf += self.message()  # two messages in one read
        return bytes(buf)


class _Link:
    """A slave's link as the master's registry sees it."""

    slave_id = "slave-1"
    hello = SlaveHello("slave-1", "127.0.0.1:5301", "proof", "127.0.0.1:9301")
    last_heard = 0.0

    def send(self, message) -> None:
        pass

    def abort(self) -> None:
        pass


class _Reports:
    def report(self, message) -> None:
        pass


_REGISTERED = sorted(REGISTRY.items())
_HOSTILE = [
    lambda: float("nan"),
    lambda: float("inf"),
    lambda: 10**400,
    lambda: -(2**63),
    lambda: "x" * 5000,
    lambda: "\udcff\x00",
    lambda: [[[[[[[[[[[]]]]]]]]]]],
    lambda: {"a": {"b": {"c": None}}},
    lambda: None,
    lambda: True,
    lambda: "",
]
_PLAIN = [
    lambda rng: rng.randrange(-5, 10**6),
    lambda rng: rng.random() * 1000,
    lambda rng: "".join(rng.choice("abcxyz-_.:0129 ") for _ in range(rng.randrange(12))),
    lambda rng: [rng.randrange(10) for _ in range(rng.randrange(4))],
]
