"""Turbo mode (P1-P3) on loopback, end to end through the command line: a lone viewer gets
images peer to peer, a second viewer brings both back through the slave, the first returns
to the peer link when the second leaves, a lost peer link falls back, and a stranger or a
forged ticket gets nothing from the broadcaster's turbo port."""

import json
import re
import socket

import pytest

from cli.services import free_port
from client.connection import Connection
from client.peer_tls import pinned_context
from client.errors import ConnectionLost, FramecastError
from common.messages.turbo import PeerHello, PeerWelcome
from common.signing import Signer
from common.tokens import PeerTicket
from tests.conftest import Running, broadcasting, register_users, start_cluster, stop_cluster, wait_until


@pytest.fixture(scope="module")
def turbo_cluster(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("turbo"))
    yield cluster
    stop_cluster(cluster)


@pytest.fixture
def people(turbo_cluster, tmp_path):
    return lambda *names: register_users(turbo_cluster, tmp_path, *names)


def last(view):
    rows = view.json()
    return rows[-1] if rows else {}


def on_path(view, path, timeout=15):
    try:
        return wait_until(lambda: last(view).get("path") == path and last(view).get("fps", 0) > 0, timeout)
    except AssertionError:
        raise AssertionError(f"not on the {path} path: " + "\n".join(view.lines + view.out[-3:])) from None


def frames_after(view, count, timeout=15):
    before = last(view).get("frames", 0)
    return wait_until(lambda: last(view).get("frames", 0) >= before + count and last(view), timeout)


def test_one_viewer_p2p_second_through_the_slave_and_back(people, turbo_cluster):
    alice, bob, carol = people("tbalice", "tbbob", "tbcarol")
    port = free_port()
    caster = broadcasting(alice, "tbalice", "--turbo", "always", "--turbo-port", str(port), "--fps", "10")
    bob_view = carol_view = None
    try:
        bob_view = Running(bob, "view", "tbalice", "--json", "--duration", "60")
        on_path(bob_view, "p2p")
        caster.saw("tbbob gets images peer to peer")
        frames_after(bob_view, 20)
        rows = json.loads(alice.ok("viewers", "--json"))
        assert [(row["user"], row["path"]) for row in rows] == [("tbbob", "p2p")]
        skipped = last(bob_view)["skipped"]
        carol_view = Running(carol, "view", "tbalice", "--json", "--duration", "60")
        on_path(carol_view, "server")
        on_path(bob_view, "server")
        caster.saw("images go through the slave again")
        frames_after(bob_view, 20)
        assert last(bob_view)["skipped"] - skipped <= 1, "no gap over two frame intervals at the switch"
        assert last(bob_view)["reconnects"] == 0
        skipped = last(bob_view)["skipped"]
        carol_view.stop()
        on_path(bob_view, "p2p")
        frames_after(bob_view, 20)
        assert last(bob_view)["skipped"] - skipped <= 1
        status = alice.ok("status")
        assert re.search(r"TURBO\s+SAVED", status)
    finally:
        for process in (bob_view, carol_view, caster):
            if process is not None:
                process.stop()


def test_a_stranger_and_a_forged_ticket_get_nothing(people, turbo_cluster):
    (alice,) = people("tsalice")
    port = free_port()
    caster = broadcasting(alice, "tsalice", "--turbo", "always", "--turbo-port", str(port))
    try:
        stranger = socket.create_connection(("127.0.0.1", port), timeout=10)
        stranger.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not even TLS
        try:
            assert stranger.recv(100) == b"", "a stranger is cut off without a word"
        except ConnectionResetError:
            pass  # closed with the request unread: a reset, as good as a close
        forged = Signer("not the turbo key").sign(PeerTicket("mallory", "a-peer-name"))
        conn = Connection("127.0.0.1", port, tls=pinned_context())  # TLS, but no ticket of ours
        with pytest.raises(FramecastError):
            conn.request(PeerHello(forged), PeerWelcome, timeout=10)
        with pytest.raises(ConnectionLost):
            conn.recv(5)
    finally:
        caster.stop()


def test_the_peer_link_lost_mid_stream_falls_back_at_once(people, turbo_cluster):
    alice, bob = people("tlalice", "tlbob")
    caster = broadcasting(alice, "tlalice", "--turbo", "always", "--fps", "10")
    view = None
    try:
        view = Running(bob, "view", "tlalice", "--json", "--duration", "60")
        on_path(view, "p2p")
        caster.process.send_signal(__import__("signal").SIGSTOP)  # the peer link goes silent
        try:
            view.saw("peer link lost")
        finally:
            caster.process.send_signal(__import__("signal").SIGCONT)
        on_path(view, "server")
        frames_after(view, 10)
    finally:
        for process in (view, caster):
            if process is not None:
                process.stop()


def test_ask_puts_the_question_with_the_first_lone_viewer(people, turbo_cluster):
    alice, bob = people("taalice", "tabob")
    caster = broadcasting(alice, "taalice", "--turbo", "ask")
    view = None
    try:
        view = Running(bob, "view", "taalice", "--json", "--duration", "60")
        caster.saw("turbo mode: send images straight to tabob")
        frames_after(view, 10)
        assert all(row["path"] == "server" for row in view.json()), "not before the broadcaster says yes"
        caster.type("y")
        on_path(view, "p2p")
        caster.type("turbo off")
        on_path(view, "server")
    finally:
        for process in (view, caster):
            if process is not None:
                process.stop()
