"""Operator proofs on a master's client port, in-process: a proof is used once for as long
as it can pass a check, and nothing a slave holds makes one."""

import asyncio

import pytest
from itsdangerous.timed import TimestampSigner
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from common import keys
from common.messages import parse
from common.messages.accounts import Status, StatusRequest
from common.messages.basic import Error
from common.protocol import Decoder
from common.signing import CLOCK_SKEW, Signer
from common.tokens import OperatorProof
from master.node import Master, MasterConfig
from master.ports.client_port import MasterClientProtocol
from master.storage.db.tables import DatabaseTables
from master.storage.memory_store import MemoryStore
from tests.services import SIGNER
from tests.test_master_logic import clock_at

T0 = 2_000_000_000.0
STORE = MemoryStore()  # what the masters share (Redis), with the used nonces


@pytest.fixture
def now():
    """The one clock of the master and of its credential checks: its reactor's."""
    return clock_at(T0)


def status(now: Clock, proof: str):
    """The master's answer to an operator STATUS with ``proof``."""
    master = Master(MasterConfig("m1", "m1:5101", "m1:5201"), STORE, DatabaseTables.on(None), SIGNER, now)
    protocol, transport = MasterClientProtocol(master.client_services, now), StringTransport()
    protocol.makeConnection(transport)

    async def ask():
        protocol.dataReceived(StatusRequest(proof=proof).encode())
        for _ in range(50):  # let the store's coroutines run (loop turns, not time)
            await asyncio.sleep(0)

    asyncio.run(ask())
    (answer,) = [parse(message) for message in Decoder().feed(transport.value())]
    return answer


def test_a_proof_from_a_clock_ahead_is_refused_again_until_it_expires(monkeypatch, now):
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(T0 + CLOCK_SKEW))
    proof = SIGNER.sign(OperatorProof.fresh(OperatorProof.STATUS))
    assert isinstance(status(now, proof), Status)
    now.advance(SIGNER.ticket_ttl + 2 * CLOCK_SKEW - 1)  # the proof still passes its check
    refused = status(now, proof)
    assert refused == Error("not_operator", "this operator proof was already used; make a new one")
    now.advance(2)
    expired = status(now, proof)
    assert expired == Error("not_operator", "operator commands need the cluster secret: operator proof has expired")


@pytest.mark.parametrize("key", keys.slave_settings("s3cret").values())
def test_a_slaves_keys_make_no_operator_proof(now, key):
    forged = Signer(key).sign(OperatorProof.fresh(OperatorProof.STATUS))
    refused = status(now, forged)
    assert refused == Error("not_operator", "operator commands need the cluster secret: invalid operator proof")
