"""Turbo mode between hosts with different addresses (network namespaces): the viewer reaches
the broadcaster at the address the servers chose for it; a viewer without a route to the
broadcaster, and one whose peer link is cut mid-stream, fall back to the slave by themselves."""

import pytest

from cli.services import free_port
from tests import netns
from tests.conftest import Cli, Running, register_users, start_cluster, stop_cluster
from tests.test_turbo_e2e import frames_after, last, on_path

pytestmark = pytest.mark.skipif(not netns.available(), reason="needs root and ip netns")


class NamespaceCli(Cli):
    """The framecast command run on another host (a network namespace)."""

    def __init__(self, cli: Cli, namespace: str, server: str):
        super().__init__(server, cli.home, cli.secret)
        self.namespace = namespace

    def argv(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *super().argv(*args)]


@pytest.fixture(scope="module")
def hosts():
    with netns.hosts() as made:
        yield made


@pytest.fixture(scope="module")
def net_cluster(hosts, tmp_path_factory):
    cluster = start_cluster(
        tmp_path_factory.mktemp("netns"),
        use_haproxy=False,  # clients on other hosts reach the masters directly
        master_args=["--host", "0.0.0.0"],
        slave_args=["--host", "0.0.0.0", "--advertise", netns.SERVERS],
    )
    yield cluster
    stop_cluster(cluster)


@pytest.fixture
def on_hosts(hosts, net_cluster, tmp_path):
    """Registered users, each placed on a host: on_hosts(("alice", hosts.near[0]), ...)."""
    masters = ",".join(f"{netns.SERVERS}:{n.ports['client']}" for n in net_cluster.nodes if n.role == "master")

    def make(*placed):
        names = [name for name, _ in placed]
        clis = register_users(net_cluster, tmp_path, *names)
        return [NamespaceCli(cli, namespace, masters) for cli, (_, namespace) in zip(clis, placed)]

    return make


def broadcast_from(cli, *args):
    caster = Running(cli, "broadcast", "--duration", "60", "--turbo", "always", "--fps", "10", *args)
    caster.saw("broadcasting through slave")
    return caster


def test_a_viewer_on_another_host_goes_peer_to_peer(hosts, on_hosts):
    alice, bob = on_hosts(("nnalice", hosts.near[0]), ("nnbob", hosts.near[1]))
    caster = broadcast_from(alice)
    view = Running(bob, "view", "nnalice", "--json", "--duration", "60")
    try:
        on_path(view, "p2p")
        caster.saw("nnbob connected peer to peer")
        frames_after(view, 20)
        assert last(view)["path"] == "p2p"
    finally:
        view.stop()
        caster.stop()


def test_a_viewer_without_a_route_stays_on_the_slave(hosts, on_hosts):
    alice, carol = on_hosts(("nfalice", hosts.near[0]), ("nfcarol", hosts.far))
    caster = broadcast_from(alice)
    view = Running(carol, "view", "nfalice", "--json", "--duration", "60")
    try:
        view.saw("turbo: ")
        on_path(view, "server")
        frames_after(view, 20)
        assert all(row["path"] == "server" for row in view.json())
    finally:
        view.stop()
        caster.stop()


def test_a_peer_link_cut_mid_stream_falls_back(hosts, on_hosts):
    alice, bob = on_hosts(("ncalice", hosts.near[0]), ("ncbob", hosts.near[1]))
    port = free_port()
    caster = broadcast_from(alice, "--turbo-port", str(port))
    view = Running(bob, "view", "ncalice", "--json", "--duration", "60")
    rules = [["INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"]]
    rules.append(["OUTPUT", "-p", "tcp", "--sport", str(port), "-j", "DROP"])
    try:
        on_path(view, "p2p")
        for rule in rules:  # the peer link goes dead, without a word
            hosts.run(hosts.near[0], "iptables", "-A", *rule)
        try:
            view.saw("peer link lost")
            on_path(view, "server")
            frames_after(view, 20)
        finally:
            for rule in rules:
                hosts.run(hosts.near[0], "iptables", "-D", *rule)
        assert last(view)["reconnects"] == 0, "the slave connection was never touched"
    finally:
        view.stop()
        caster.stop()
