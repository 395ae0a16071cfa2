"""Accounts under attack, against a real cluster (issue 18): wrong passwords sent in a
user's name do not lock her out (finding 8); players get short-lived tokens of their own
kind, and ``logout --everywhere`` ends every token a user holds (finding 6)."""

from __future__ import annotations

import json
import shutil
import socket

import pytest
import requests

from client.errors import ServerError
from client.masters import Masters
from common.messages.social import FriendList, FriendsRequest

from common.errors import ErrorCode
from common.messages import parse
from common.messages.accounts import Login
from common.protocol import Decoder
from master.policy.limits import LIMITS, Flood
from tests.conftest import Cli, Running, register_users, wait_until


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


def snapshot_status(cluster, user: str, token: str) -> tuple[int, str]:
    answer = requests.get(cluster.web + f"snapshot/{user}.jpg", params={"token": token}, timeout=30)
    return answer.status_code, answer.text


def test_logout_everywhere_ends_the_tokens_copied_before_it(cluster, tmp_path):
    (bob,) = register_users(cluster, tmp_path, "bob")
    laptop = Cli(cluster.server, tmp_path / "bob-laptop")  # the same login, copied elsewhere
    laptop.home.mkdir()
    shutil.copy(bob.home / "credentials.json", laptop.home / "credentials.json")
    player = bob.ok("token", "--for-player", "--ttl", "600").strip()
    laptop.ok("friends")
    assert snapshot_status(cluster, "nobody", player)[0] == 404  # let in; nobody broadcasts
    assert "logged out" in bob.ok("logout", "--everywhere")
    assert not (bob.home / "credentials.json").exists()
    refused = laptop.run("friends")
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1
    assert "ended by logout --everywhere" in refused.stderr
    status, text = snapshot_status(cluster, "nobody", player)
    assert status == 401 and "ended by logout --everywhere" in text
    bob.ok("login", "bob", "--password", "password-bob")  # a new login is not ended
    bob.ok("friends")


def test_a_player_token_opens_players_urls_only_and_lives_at_most_a_day(cluster, tmp_path):
    (carol,) = register_users(cluster, tmp_path, "carol")
    player = carol.ok("token", "--for-player").strip()
    login = json.loads((carol.home / "credentials.json").read_text())["token"]
    assert player != login
    with pytest.raises(ServerError) as refused:  # not a login on the client port
        Masters(cluster.server).request(FriendsRequest(player), FriendList)
    assert refused.value.code == "bad_token" and "invalid login token" in str(refused.value)
    too_long = carol.run("token", "--for-player", "--ttl", "90000")
    assert too_long.returncode != 0 and too_long.stderr.count("\n") == 1 and "24 hours" in too_long.stderr
    logout = carol.ok("logout")
    assert "logged out" in logout and not (carol.home / "credentials.json").exists()
    assert snapshot_status(cluster, "nobody", player)[0] == 404  # a local logout ends no token


def test_logout_everywhere_ends_the_sessions_attached_on_any_master(cluster, tmp_path):
    (dave,) = register_users(cluster, tmp_path, "dave")
    watching = Running(dave, "friends", "--watch")  # an attached session, through HAProxy
    try:
        wait_until(lambda: watching.out, 30)
        phone = Cli(cluster.server, tmp_path / "dave-phone")
        phone.ok("login", "dave", "--password", "password-dave")
        phone.ok("logout", "--everywhere")
        wait_until(lambda: watching.process.poll() is not None, 30)
        assert watching.process.returncode != 0
        wait_until(lambda: any("ended by logout --everywhere" in line for line in watching.lines), 10)
    finally:
        watching.stop()
