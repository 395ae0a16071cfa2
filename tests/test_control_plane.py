"""Client requests cannot hold up the control plane: heartbeats, sweeps and placements use a
Redis pool of their own (``Master.control``), so a flood of STATUS requests that takes every
connection of the clients' pool leaves slaves live and placements working; and a STATUS loop
on one connection is refused past a rate."""

import asyncio
import json
import socket
import threading
import time

import redis
from twisted.internet.testing import StringTransport

from client.masters import Masters
from common.addresses import parse_hostport
from common.errors import ErrorCode
from common.messages import parse
from common.messages.accounts import Status, StatusRequest
from common.messages.basic import Error
from common.messages.cluster import Heartbeat, SlaveState
from common.protocol import Decoder
from common.tokens import OperatorProof
from master.node import Master, MasterConfig
from master.ports.client_port import STATUS_BURST, STATUS_RATE, MasterClientProtocol
from master.storage.db.tables import DatabaseTables
from master.storage.memory_store import MemoryStore
from tests.conftest import REDIS_URL, register_users, start_cluster, stop_cluster
from tests.services import SIGNER, FakeLink
from tests.test_master_logic import clock_at, twisted


class ExhaustedStore:
    """A store whose every call waits for a connection that never comes free."""

    def __getattr__(self, name):
        async def wait_forever(*args, **kwargs):
            await asyncio.Event().wait()

        return wait_forever


def test_heartbeats_sweeps_and_placements_do_not_wait_for_the_clients_pool():
    config = MasterConfig("m1", "m1:5101", "m1:5201")
    master = Master(config, ExhaustedStore(), DatabaseTables.on(None), SIGNER, clock_at(1000.0), control=MemoryStore())
    links = [FakeLink("s1"), FakeLink("s2")]

    async def control_plane():
        for link in links:
            await twisted(master.registry.heartbeat(link, Heartbeat(0, 0, 0, SlaveState.LIVE)))
        await twisted(master.registry.sweep())
        return await twisted(master.redirects.place_broadcast("alice", "session-alice"))

    async def main():
        return await asyncio.wait_for(control_plane(), 10)  # a guard against hanging, not a timing test

    assert asyncio.run(main()).slave_id in {"s1", "s2"}


def test_a_status_loop_on_one_connection_is_refused_past_its_rate():
    clock = clock_at(time.time())  # the operator proofs are signed now
    master = Master(MasterConfig("m1", "m1:5101", "m1:5201"), MemoryStore(), DatabaseTables.on(None), SIGNER, clock)
    protocol, transport = MasterClientProtocol(master.client_services, clock), StringTransport()
    protocol.makeConnection(transport)

    async def ask(times: int) -> list:
        for _ in range(times):
            protocol.dataReceived(StatusRequest(proof=SIGNER.sign(OperatorProof.fresh(OperatorProof.STATUS))).encode())
            for _ in range(50):  # let the store's coroutines run (loop turns, not time)
                await asyncio.sleep(0)
        answers = [parse(message) for message in Decoder().feed(transport.value())]
        transport.clear()
        return answers

    async def main():
        answers = await ask(STATUS_BURST + 3)
        assert [type(a) for a in answers] == [Status] * STATUS_BURST + [Error] * 3
        assert answers[-1].code == ErrorCode.RATE_LIMITED and "too many status requests" in answers[-1].message
        clock.advance(1.0)
        assert [type(a) for a in await ask(3)] == [Status] * int(STATUS_RATE) + [Error]

    asyncio.run(main())


class StatusFlood(threading.Thread):
    """One connection that keeps its 8 allowed STATUS requests in flight until stopped."""

    def __init__(self, address: str, token: str):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(parse_hostport(address), timeout=10)
        self.request = StatusRequest(token=token).encode()
        self.answers = 0
        self.running = True

    def run(self):
        decoder = Decoder()
        self.sock.sendall(self.request * 8)
        while self.running:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return
            answered = len(list(decoder.feed(chunk)))
            self.answers += answered
            if answered:
                self.sock.sendall(self.request * answered)

    def stop(self):
        self.running = False
        self.join(15)
        self.sock.close()


def test_a_status_flood_leaves_slaves_live_and_placements_working(tmp_path):
    cluster = start_cluster(tmp_path / "cluster", masters=1, slaves=2, use_haproxy=False)
    try:
        (alice,) = register_users(cluster, tmp_path, "alice")
        token = json.loads((alice.home / "credentials.json").read_text())["token"]
        floods = [StatusFlood(cluster.server, token) for _ in range(4)]
        for flood in floods:
            flood.start()
        states = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        placed, dead = [], set()
        until = time.monotonic() + 3 * cluster.dead_after
        while time.monotonic() < until:
            placed.append(Masters(cluster.server).broadcast_redirect(token, "session-alice"))
            liveness = states.hgetall(cluster.redis_prefix + "slave-state")
            dead |= {key for key, value in liveness.items() if key.startswith("state:") and value == SlaveState.DEAD}
        answered = [flood.answers for flood in floods]
        for flood in floods:
            flood.stop()
        assert not dead, f"live slaves were marked dead during the flood: {dead}"
        assert len(placed) >= 3 and all(answered), (len(placed), answered)
    finally:
        stop_cluster(cluster)
