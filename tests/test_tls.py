"""TLS end to end (issue 13): a cluster whose every port serves TLS with a local CA, the
slaves' links to the masters included, as ``framecast up`` runs by default; clients verify
the certificates by default and refuse a wrong one with one clear line; servers do not
start without a certificate unless told --insecure."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess

import pytest
import requests

from cli.local_cluster import FRAMECAST
from common.tls import local_certificates
from tests.conftest import (
    Cli,
    Running,
    broadcast_entry,
    broadcasting,
    cluster_status,
    json_lines,
    metric,
    register_users,
    start_cluster,
    stop_cluster,
    wait_until,
)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("tls")
    cluster = start_cluster(home, slaves=2, tls=True, master_args=["--relay-after", "1"])
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def test_broadcast_and_view_over_tls_with_verified_certificates(tls_cluster, tmp_path):
    alice, bob = register_users(tls_cluster, tmp_path, "alice", "bob")
    caster = broadcasting(alice, "alice", "--size", "320x240")
    try:
        viewer = bob.run("view", "alice", "--frames", "5", "--json", timeout=60)
        assert viewer.returncode == 0, viewer.stderr
        assert json.loads(viewer.stdout.splitlines()[-1])["frames"] >= 5
        # it took sealed frames (README, Encryption), as every native viewer of a TLS slave does
        slaves = [node.name for node in tls_cluster.nodes if node.name.startswith("slave")]
        assert sum(metric(tls_cluster, name, "framecast_slave_sealed_views_total") for name in slaves) >= 1
        token = json.loads((bob.home / "credentials.json").read_text())["token"]
        # A snapshot goes to alice's own slave, never to a relay just started for it (this
        # cluster relays past one viewer, and bob is that one).
        snapshot = requests.get(
            tls_cluster.secure_web + "snapshot/alice.jpg", params={"token": token}, verify=tls_cluster.ca, timeout=10
        )
        assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
        assert snapshot.url.startswith("https://")  # the slave serves its images with TLS too
        # The product's address, http://127.0.0.1:8100/, still works for this machine.
        local = requests.get(tls_cluster.web + "snapshot/alice.jpg", params={"token": token}, timeout=10)
        assert local.status_code == 200 and local.content[:2] == b"\xff\xd8"
        assert local.url.startswith("http://127.0.0.1:")
    finally:
        caster.stop()


def test_a_relay_pulls_over_tls(tls_cluster, tmp_path):
    """Past one viewer, the next goes to the other slave, which relays from the origin with
    TLS between the slaves."""
    carol, dave, erin = register_users(tls_cluster, tmp_path, "carol", "dave", "erin")
    caster = broadcasting(carol, "carol", "--size", "320x240")
    try:
        first = Running(dave, "view", "carol", "--json", "--duration", "60")
        wait_until(lambda: json_lines("\n".join(first.out)), 20)
        # The origin is full (one viewer), yet a snapshot goes there, where the image is:
        # a relay started for one image would not have it yet.
        origin_addr = json_lines("\n".join(first.out))[-1]["slave"]
        origin = next(n for n in tls_cluster.nodes if n.role == "slave" and n.client_addr == origin_addr)
        token = json.loads((erin.home / "credentials.json").read_text())["token"]
        hop = requests.get(
            tls_cluster.secure_web + "snapshot/carol.jpg",
            params={"token": token},
            verify=tls_cluster.ca,
            allow_redirects=False,
            timeout=10,
        )
        assert hop.status_code == 302 and f":{origin.ports['web']}/snapshot/" in hop.headers["Location"]
        second = Running(erin, "view", "carol", "--json", "--duration", "60")
        wait_until(lambda: any(line.get("frames", 0) >= 5 for line in json_lines("\n".join(second.out))), 30)
        wait_until(lambda: [r for r in cluster_status(erin)["relays"] if r["user"] == "carol"], 10)
        slaves = {line["slave"] for viewer in (first, second) for line in json_lines("\n".join(viewer.out))}
        assert len(slaves) == 2  # the second viewer watches on the relay
        first.stop()
        second.stop()
    finally:
        caster.stop()


def test_a_client_refuses_a_certificate_its_ca_did_not_sign(tls_cluster, tmp_path):
    stranger_ca = local_certificates(tmp_path / "other", tmp_path / "other", ["localhost", "127.0.0.1"]).ca
    cli = Cli(tls_cluster.server, tmp_path / "home", ca=str(stranger_ca))
    result = cli.run("register", "mallory", "--password", "password-mallory")
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "with TLS: certificate" in result.stderr


def test_a_plain_client_cannot_talk_to_a_tls_cluster(tls_cluster, tmp_path):
    cli = Cli(tls_cluster.server, tmp_path / "home", insecure=True)
    result = cli.run("register", "plain", "--password", "password-plain")
    assert result.returncode != 0 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "leave out --insecure" in result.stderr


def test_a_client_with_no_options_trusts_the_local_ca_and_nothing_else(tls_cluster, tmp_path, monkeypatch):
    """The local CA ``framecast up`` keeps in the OS user's ~/.framecast/tls is trusted
    without --ca; without it, clients verify against the system's roots only, which did
    not sign the cluster."""
    monkeypatch.setenv("HOME", str(tmp_path / "os-user"))
    cli = Cli(tls_cluster.server, tmp_path / "frank", insecure=False)
    result = cli.run("register", "frank", "--password", "password-frank")
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert "with TLS: certificate not trusted" in result.stderr
    (tmp_path / "os-user" / ".framecast" / "tls").mkdir(parents=True)
    shutil.copy(tls_cluster.ca, tmp_path / "os-user" / ".framecast" / "tls" / "ca.pem")
    cli.ok("register", "frank", "--password", "password-frank")


def test_plain_http_is_for_this_machine_only(tls_cluster):
    """A browser elsewhere (here: a PROXY header naming another address, as HAProxy sends)
    is told to use https; the same request from this machine gets the page."""
    master = next(n for n in tls_cluster.nodes if n.role == "master")

    def get_page(source: str) -> bytes:
        with socket.create_connection(("127.0.0.1", master.ports["web"]), timeout=10) as conn:
            header = f"PROXY TCP4 {source} 127.0.0.1 40000 {tls_cluster.web_port}\r\n"
            conn.sendall(header.encode() + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return b"".join(iter(lambda: conn.recv(65536), b""))

    assert b"use https://" in get_page("203.0.113.9") and b"<html" not in get_page("203.0.113.9")
    assert get_page("127.0.0.1").startswith(b"HTTP/1.1 200") and b"<html" in get_page("127.0.0.1").lower()


@pytest.mark.parametrize("role", ["master", "slave"])
def test_a_server_needs_a_certificate_or_insecure(role):
    result = subprocess.run([*FRAMECAST, role], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert "--tls-cert and --tls-key" in result.stderr and "--insecure" in result.stderr


def test_sealed_viewers_follow_a_drain_and_a_thrown_one_is_cut(tls_cluster, tmp_path):
    """Native viewers of a TLS cluster take sealed frames on a data connection: a drain
    moves them (a new data connection on the new slave), a throw ends one at once with its
    one line while the other goes on."""
    gina, hal, ivy = register_users(tls_cluster, tmp_path, "gina", "hal", "ivy")
    caster = broadcasting(gina, "gina", "--fps", "10")
    origin = None
    try:
        hal_view = Running(hal, "view", "gina", "--json", "--duration", "60")
        ivy_view = Running(ivy, "view", "gina", "--json", "--duration", "60")  # on a relay (--relay-after 1)

        def flowing(view, more=20):
            before = wait_until(view.json, 10)[-1]["frames"]
            wait_until(lambda: view.json()[-1]["frames"] >= before + more, 20)

        flowing(hal_view), flowing(ivy_view)
        origin = broadcast_entry(gina, "gina")["slave"]
        drained = gina.operator("drain", origin, "--wait")
        assert drained.returncode == 0, drained.stderr
        wait_until(lambda: (entry := broadcast_entry(gina, "gina")) and entry["slave"] != origin, 20)
        flowing(hal_view), flowing(ivy_view)
        assert "removed ivy" in gina.ok("throw", "ivy")
        assert ivy_view.process.wait(10) == 1 and ivy_view.lines[-1] == "framecast: error: gina removed you"
        flowing(hal_view)
        hal_view.stop()
    finally:
        caster.stop()
        if origin is not None:
            gina.operator("undrain", origin)
