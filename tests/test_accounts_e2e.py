"""Accounts under attack, against a real cluster (issue 18): wrong passwords sent in a
user's name do not lock her out (finding 8)."""

from __future__ import annotations

import socket

from common.errors import ErrorCode
from common.messages import parse
from common.messages.accounts import Login
from common.protocol import Decoder
from master.floods import LIMITS, Flood
from tests.conftest import Cli


def login_from(cluster, address: str, user: str, password: str):
    """A login as if from ``address`` (the PROXY header HAProxy sends); the master's answer."""
    master = cluster.node("master-1")
    with socket.create_connection(("127.0.0.1", master.ports["client"]), timeout=20) as conn:
        conn.sendall(f"PROXY TCP4 {address} 127.0.0.1 5555 {master.ports['client']}\r\n".encode())
        conn.sendall(Login(user, password).encode())
        decoder, received = Decoder(), []
        while not received:
            received = [parse(m) for m in decoder.feed(conn.recv(65536))]
        return received[0]


def test_wrong_passwords_from_elsewhere_do_not_lock_a_user_out(cluster, tmp_path):
    alice = Cli(cluster.server, tmp_path / "alice")
    alice.ok("register", "alice", "--password", "password-alice")
    attempts = LIMITS[Flood.FAILED_LOGIN_USER].burst + 5
    answers = [login_from(cluster, "203.0.113.66", "alice", f"guess-{i}") for i in range(attempts)]
    assert {a.code for a in answers} == {ErrorCode.WRONG_PASSWORD, ErrorCode.RATE_LIMITED}
    assert "from your address" in answers[-1].message  # the guessing address is refused
    assert login_from(cluster, "203.0.113.66", "alice", "password-alice").code == ErrorCode.RATE_LIMITED
    assert "logged in as alice" in alice.ok("login", "alice", "--password", "password-alice")
