"""TLS end to end (issue 13): a cluster whose every port serves TLS with a local CA, the
slaves' links to the masters included; clients verify the certificates and refuse a wrong
one with one clear line."""

from __future__ import annotations

import json

import pytest
import requests

from common.tls import make_local_ca
from tests.conftest import (
    Cli,
    Running,
    broadcasting,
    cluster_status,
    json_lines,
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
        token = json.loads((bob.home / "credentials.json").read_text())["token"]
        snapshot = requests.get(
            tls_cluster.web + "snapshot/alice.jpg", params={"token": token}, verify=tls_cluster.ca, timeout=10
        )
        assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
        assert snapshot.url.startswith("https://")  # the slave serves its images with TLS too
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
    stranger_ca = make_local_ca(tmp_path / "other", ["localhost", "127.0.0.1"]).ca
    cli = Cli(tls_cluster.server, tmp_path / "home", ca=str(stranger_ca))
    result = cli.run("register", "mallory", "--password", "password-mallory")
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "with TLS: certificate" in result.stderr


def test_a_plain_client_cannot_talk_to_a_tls_cluster(tls_cluster, tmp_path):
    result = Cli(tls_cluster.server, tmp_path / "home").run("register", "plain", "--password", "password-plain")
    assert result.returncode != 0 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
