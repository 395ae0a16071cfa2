"""Bad input gets a clear error for that one client; servers and other sessions carry on."""

import os
import socket
import time

import pytest

from cli import credentials
from client.connection import Connection
from client.errors import ServerError
from client.masters import Masters
from common.addresses import parse_hostport
from common.errors import ErrorCode
from common.messages import parse
from common.messages.accounts import (
    Login,
    LoginToken,
    OperatorCommand,
    OperatorRequest,
    SlaveChanged,
    StatusRequest,
    Status,
)
from common.messages.basic import Error
from common.messages.streaming import ViewStart
from common.protocol import HEADER, MAGIC, Decoder, MessageType as T, encode
from common.signing import Signer
from common.tokens import LoginClaims, OperatorProof
from tests.conftest import broadcast_entry, json_lines, wait_until


def raw_exchange(address, data: bytes, timeout=5.0):
    """Send raw bytes; return the messages answered and whether the server closed."""
    host, port = parse_hostport(address)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except socket.timeout:
            return [parse(m) for m in Decoder().feed(received)], False
    return [parse(m) for m in Decoder().feed(received)], True


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("framecast: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def live_broadcast(cluster, tmp_path_factory):
    """A broadcast that runs through every bad-input test, to prove nothing else breaks."""
    from tests.conftest import Cli

    home = tmp_path_factory.mktemp("homes")
    star, fan = Cli(cluster.server, home / "star", cluster.secret), Cli(cluster.server, home / "fan", cluster.secret)
    for cli, name in ((star, "star"), (fan, "fan")):
        cli.ok("register", name, "--password", "password")
        cli.ok("login", name, "--password", "password")
    process = star.start("broadcast", "--fps", "10", "--duration", "120")
    wait_until(lambda: broadcast_entry(fan, "star"), 15)
    viewer = fan.start("view", "star", "--json", "--duration", "120")
    yield fan
    viewer.terminate()
    process.terminate()
    out, _ = viewer.communicate(timeout=10)
    process.wait(10)
    lines = json_lines(out)
    assert lines and lines[-1]["frames"] > 0


def slave_address(cluster):
    return cluster.node("slave-1").client_addr


@pytest.mark.parametrize("target", ["master", "slave"])
def test_random_bytes_are_refused_with_an_error(cluster, live_broadcast, target):
    address = cluster.server if target == "master" else slave_address(cluster)
    messages, closed = raw_exchange(address, os.urandom(64) + b"garbage")
    assert closed
    assert isinstance(messages[0], Error) and messages[0].code in {"bad_magic", "bad_version", "too_large"}


@pytest.mark.parametrize("target", ["master", "slave"])
def test_an_oversized_length_is_refused(cluster, live_broadcast, target):
    address = cluster.server if target == "master" else slave_address(cluster)
    messages, closed = raw_exchange(address, HEADER.pack(MAGIC, 1, T.FRAME, 0, 2**32 - 1))
    assert closed and messages[0].code == "too_large"
    assert "exceeds the limit" in messages[0].message


def test_malformed_json_is_refused(cluster, live_broadcast):
    messages, closed = raw_exchange(cluster.server, encode(T.LOGIN, b"{not json"))
    assert closed and messages[0].code == "bad_json"


def test_an_unknown_message_type_is_skipped(cluster, live_broadcast):
    host, port = parse_hostport(cluster.server)
    conn = Connection(host, port)
    conn.send_bytes(encode(250, b"a message from a future version"))
    proof = Signer(cluster.secret).sign(OperatorProof.fresh(OperatorProof.STATUS))
    status = conn.request(StatusRequest(proof=proof), Status)
    assert len(status.masters) == 2
    conn.close()


def test_an_operator_proof_is_single_use_and_proves_only_its_command(cluster):
    host, port = parse_hostport(cluster.server)
    conn = Connection(host, port)
    signer = Signer(cluster.secret)
    proof = signer.sign(OperatorProof.fresh(OperatorProof.STATUS))
    conn.request(StatusRequest(proof=proof), Status)
    with pytest.raises(ServerError, match="this operator proof was already used"):
        conn.request(StatusRequest(proof=proof), Status)
    for_slave_2 = signer.sign(OperatorProof.fresh(OperatorCommand.DRAIN, "slave-2"))
    with pytest.raises(ServerError, match="this operator proof was made for another command"):
        conn.request(OperatorRequest(OperatorCommand.DRAIN, for_slave_2, "slave-1"), SlaveChanged)
    without_nonce = signer.sign(OperatorProof(OperatorProof.STATUS))
    with pytest.raises(ServerError, match="already used"):
        conn.request(StatusRequest(proof=without_nonce), Status)
    conn.close()


def test_a_bad_token_is_refused(cluster, live_broadcast, tmp_path, monkeypatch):
    with pytest.raises(ServerError) as info:
        Masters(cluster.server).broadcast_redirect("not-a-token", "session-123456")
    assert info.value.code == "bad_token" and str(info.value) == "invalid login token"
    monkeypatch.setenv("FRAMECAST_HOME", str(tmp_path))
    forged = Signer("guessed").sign(LoginClaims("mallory"))
    credentials.save(LoginToken("mallory", forged, time.time() + 3600), cluster.server)
    from tests.conftest import Cli

    result = Cli(cluster.server, tmp_path).run("view", "star")
    assert one_error_line(result) == "framecast: error: invalid login token"


def test_an_expired_token_is_refused(cluster, live_broadcast, monkeypatch):
    import itsdangerous.timed

    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - 13 * 3600)
    stale = Signer(cluster.secret).sign(LoginClaims("fan"))
    monkeypatch.undo()
    with pytest.raises(ServerError) as info:
        Masters(cluster.server).view_redirect(stale, "star")
    assert info.value.code == "bad_token" and "expired" in str(info.value)


def test_wrong_password_and_unknown_user(cluster, live_broadcast, tmp_path):
    from tests.conftest import Cli

    cli = Cli(cluster.server, tmp_path)
    refused = "framecast: error: wrong user name or password"
    assert one_error_line(cli.run("login", "star", "--password", "nope")) == refused
    assert one_error_line(cli.run("login", "nobody", "--password", "pw")) == refused, "no telling who has an account"
    assert (
        one_error_line(cli.run("register", "star", "--password", "password"))
        == "framecast: error: user 'star' already exists"
    )
    assert "user names are" in one_error_line(cli.run("register", "bad name!", "--password", "password"))
    assert one_error_line(cli.run("register", "shorty", "--password", "1234567")) == (
        "framecast: error: a password needs 8-256 characters"
    )
    assert (
        one_error_line(cli.run("view", "star")) == "framecast: error: not logged in: run 'framecast login USER' first"
    )


def test_viewing_a_user_who_is_not_broadcasting(cluster, live_broadcast):
    result = live_broadcast.run("view", "nobody-here")
    assert one_error_line(result) == "framecast: error: nobody-here is not broadcasting"


def test_a_forged_ticket_at_a_slave(cluster, live_broadcast):
    messages, _ = raw_exchange(slave_address(cluster), ViewStart("forged").encode(), timeout=1)
    assert messages[0] == Error("bad_ticket", "invalid view ticket")


def test_an_unknown_server_address_is_one_clear_line(tmp_path):
    from tests.conftest import Cli
    from cli.services import free_port

    result = Cli(f"127.0.0.1:{free_port()}", tmp_path).run("register", "someone", "--password", "pw-someone")
    assert "cannot connect to 127.0.0.1:" in one_error_line(result)


def test_servers_still_serve_after_all_this(cluster, live_broadcast):
    lines = json_lines(live_broadcast.ok("view", "star", "--json", "--frames", "5"))
    assert lines[-1]["frames"] == 5


@pytest.mark.parametrize(
    "source, message",
    [
        ("camera:7", "framecast: error: cannot open camera 7"),
        ("camera:x", "framecast: error: bad camera 'camera:x': use camera or camera:N"),
        ("/no/such/clip.mp4", "framecast: error: no such video file: /no/such/clip.mp4"),
    ],
)
def test_a_source_that_cannot_be_opened(cluster, live_broadcast, source, message):
    result = live_broadcast.run("broadcast", "--source", source, "--frames", "3")
    assert one_error_line(result) == message


def test_login_floods_are_limited_per_real_client_address(cluster, tmp_path):
    """Behind HAProxy (PROXY protocol) each client's own address counts: a flood from one
    address is refused, while another client logs in as usual."""
    from master.policy.limits import LIMITS, Flood
    from tests.conftest import Cli

    master = cluster.node("master-1")
    header = f"PROXY TCP4 203.0.113.7 127.0.0.1 5555 {master.ports['client']}\r\n".encode()
    flood = []
    for attempt in range(2 * LIMITS[Flood.LOGIN_ADDRESS].burst):  # all at once, each on a connection
        conn = socket.create_connection(("127.0.0.1", master.ports["client"]), timeout=60)
        conn.sendall(header + Login(f"nobody{attempt}", "password").encode())
        flood.append(conn)
    answers = []
    for conn in flood:
        decoder, received = Decoder(), []
        while not received:
            received = [parse(m) for m in decoder.feed(conn.recv(65536))]
        answers.append(received[0])
        conn.close()
    codes = {a.code for a in answers}
    assert codes == {ErrorCode.WRONG_PASSWORD, ErrorCode.RATE_LIMITED}, {a.message for a in answers}
    assert any("too many logins from your address" in a.message for a in answers)
    cli = Cli(cluster.server, tmp_path)
    cli.ok("register", "floodfree", "--password", "password")
    assert "logged in" in cli.ok("login", "floodfree", "--password", "password")


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "0", "1e400"])
def test_numbers_on_the_command_line_are_finite_and_positive(text):
    import argparse

    from cli.args import positive_float

    with pytest.raises(argparse.ArgumentTypeError, match="finite number greater than 0"):
        positive_float(text)
