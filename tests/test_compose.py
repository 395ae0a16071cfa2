"""The Docker deployment (O1): the compose file validates, and every framecast service
command in it is run here, without Docker, against the real Redis and PostgreSQL."""

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest
import requests
import yaml

from cli import haproxy
from cli.local_cluster import FRAMECAST, free_port, wait_for_port
from client.masters import Masters
from common.tls import client_context, local_certificates
from tests.conftest import PG_ADMIN, REDIS_URL, clear_redis, drop_database, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT_OPTIONS = {"--client-port", "--slave-port", "--metrics-port", "--web-port", "--port"}
# What the nodes export (master/services/metrics.py, slave/metrics.py), counters with their _total suffix.
EXPORTED_METRICS = {
    "framecast_slave_frames_in_total",
    "framecast_slave_frames_out_total",
    "framecast_slave_sealed_views_total",
    "framecast_slave_bytes_in_total",
    "framecast_slave_bytes_out_total",
    "framecast_slave_frames_skipped_total",
    "framecast_slave_upload_frames_dropped_total",
    "framecast_slave_heartbeats_sent_total",
    "framecast_slave_migrations_total",
    "framecast_slave_broadcasts",
    "framecast_slave_viewers",
    "framecast_slave_draining",
    "framecast_slave_master_connected",
    "framecast_slave_capped_viewers",
    "framecast_slave_viewer_caps_kbps",
    "framecast_slave_turbo_viewers",
    "framecast_slave_turbo_bytes_saved_total",
    "framecast_master_placements_total",
    "framecast_master_redirects_total",
    "framecast_master_logins_total",
    "framecast_master_heartbeats_total",
    "framecast_master_slaves",
    "framecast_master_slave_heartbeat_age_seconds",
    "framecast_master_cap_updates_total",
    "framecast_master_operations_total",
    "framecast_master_table_rebuilds_total",
}


def compose_command():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor the docker compose plugin is installed (.ci/run installs it)")


PUBLIC_HOST = "localhost"  # the name the test's stand-in for a real certificate is for


def slave_keys(secret: str) -> dict[str, str]:
    """What ``framecast slave-keys`` prints for ``secret``, as the README has operators run it."""
    env = {**os.environ, "FRAMECAST_SECRET": secret}
    result = subprocess.run([*FRAMECAST, "slave-keys"], env=env, capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


@pytest.fixture(scope="module")
def compose():
    env = {
        **os.environ,
        "FRAMECAST_SECRET": "compose-test-secret",
        "POSTGRES_PASSWORD": "compose-test",
        "GRAFANA_ADMIN_PASSWORD": "compose-test-grafana",
        "FRAMECAST_PUBLIC_HOST": PUBLIC_HOST,
        **slave_keys("compose-test-secret"),
    }
    result = subprocess.run(
        compose_command() + ["-f", "docker-compose.yml", "config"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_has_every_role(compose):
    services = compose["services"]
    assert {"haproxy", "master1", "master2", "slave", "redis", "postgres", "prometheus", "grafana"} <= set(services)
    assert services["slave"]["network_mode"] == "host"
    framecast = [s for s in services.values() if s.get("image") == "framecast:latest"]
    assert framecast and all(s["build"]["dockerfile"] == "deploy/Dockerfile" for s in framecast)


def test_every_framecast_service_serves_the_mounted_certificate(compose):
    for name in ("master1", "master2", "slave"):
        service = compose["services"][name]
        assert service["environment"]["FRAMECAST_TLS_CERT"] == "/certs/fullchain.pem"
        assert service["environment"]["FRAMECAST_TLS_KEY"] == "/certs/privkey.pem"
        (volume,) = service["volumes"]  # "source:target:ro" from docker-compose 1, a mapping from 2
        if isinstance(volume, str):
            assert volume.endswith("/deploy/certs:/certs:ro")
        else:
            assert volume["source"].endswith("/deploy/certs") and volume["target"] == "/certs" and volume["read_only"]
    assert compose["services"]["slave"]["environment"]["FRAMECAST_MASTERS_NAME"] == PUBLIC_HOST
    assert "--insecure" not in json.dumps(compose)


def test_monitoring_listens_on_the_host_loopback_only(compose):
    """Prometheus, Grafana and the slaves' metrics run with host networking: each binds the
    loopback, never every interface; the masters' metrics are published there only."""
    services = compose["services"]
    assert "--web.listen-address=127.0.0.1:9090" in services["prometheus"]["command"]
    assert services["grafana"]["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert option(services["slave"]["command"], "--metrics-host") == "127.0.0.1"
    for name in ("master1", "master2"):
        assert all(str(port.get("host_ip", port) if isinstance(port, dict) else port).startswith("127.0.0.1")
                   for port in services[name]["ports"])


def test_compose_requires_secrets_instead_of_shipping_them():
    secrets = ("FRAMECAST_SECRET", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "FRAMECAST_SLAVE_KEY")
    env = {k: v for k, v in os.environ.items() if k not in secrets}
    result = subprocess.run(
        compose_command() + ["-f", "docker-compose.yml", "config"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "FRAMECAST_SECRET" in result.stderr + result.stdout


def test_only_the_masters_get_the_cluster_secret(compose):
    services = compose["services"]
    assert all(services[m]["environment"]["FRAMECAST_SECRET"] == "compose-test-secret" for m in ("master1", "master2"))
    slave = services["slave"]["environment"]
    assert "FRAMECAST_SECRET" not in slave
    assert {k: slave[k] for k in ("FRAMECAST_MASTER_KEY", "FRAMECAST_SLAVE_KEY")} == slave_keys("compose-test-secret")


def test_grafana_dashboard_uses_exported_metrics():
    grafana = os.path.join(ROOT, "deploy", "grafana")
    for name in ("datasources/prometheus.yml", "dashboards/framecast.yml"):
        with open(os.path.join(grafana, "provisioning", name)) as f:
            assert yaml.safe_load(f)["apiVersion"] == 1
    with open(os.path.join(grafana, "dashboards", "framecast.json")) as f:
        dashboard = json.load(f)
    assert dashboard["uid"] == "framecast"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    used = {m for e in exprs for m in re.findall(r"framecast_[a-z_]+", e)}
    assert used and used <= EXPORTED_METRICS, used - EXPORTED_METRICS


def test_haproxy_config_is_valid_and_rendered_from_the_one_template(tmp_path):

    if not shutil.which("haproxy"):
        pytest.fail("haproxy is not installed (.ci/run installs it)")
    result = subprocess.run(["haproxy", "-c", "-f", "deploy/haproxy.cfg"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(ROOT, "deploy", "haproxy.cfg")) as f:
        assert f.read() == haproxy.compose(), "regenerate it: python -m cli.haproxy > deploy/haproxy.cfg"
    local = tmp_path / "local.cfg"
    local.write_text(haproxy.local(5100, [5101, 5102], 8100, [8101, 8102]))
    result = subprocess.run(["haproxy", "-c", "-f", str(local)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def localize(command: list[str], masters: str) -> list[str]:
    """The service's own command, with this machine's free ports and local addresses."""
    out = []
    for i, arg in enumerate(command):
        previous = command[i - 1] if i else ""
        if previous in PORT_OPTIONS:
            arg = str(free_port())
        elif previous == "--host":
            arg = "127.0.0.1"
        elif previous == "--masters":
            arg = masters
        out.append(arg)
    assert out[0] == "framecast"
    return [*FRAMECAST, *out[1:]]


def option(argv, name):
    return argv[argv.index(name) + 1]


def test_every_service_command_runs_without_docker(compose, tmp_path):
    """With a certificate for PUBLIC_HOST from a CA the system trusts (SSL_CERT_FILE stands
    in for the system's roots), as a public CA's would be."""
    services = compose["services"]
    tag = uuid.uuid4().hex[:8]
    database = PG_ADMIN.rsplit("/", 1)[0] + f"/fccompose_{tag}"
    certs = local_certificates(tmp_path / "ca", tmp_path / "certs", [PUBLIC_HOST])
    local = {
        "FRAMECAST_REDIS": REDIS_URL,
        "FRAMECAST_DATABASE": database,
        "FRAMECAST_REDIS_PREFIX": f"fcc-{tag}:",
        "FRAMECAST_TLS_CERT": str(certs.cert),
        "FRAMECAST_TLS_KEY": str(certs.key),
        "SSL_CERT_FILE": str(certs.ca),
    }
    processes = []

    def start(name, argv):
        env = {**os.environ, **{k: str(v) for k, v in services[name].get("environment", {}).items()}, **local}
        log = open(tmp_path / f"{name}.log", "wb")
        processes.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
        return processes[-1]

    try:
        masters = {}
        for name in ("master1", "master2"):
            argv = localize(services[name]["command"], "")
            wait_for_port(int(option(argv, "--client-port")), 30, start(name, argv), name)
            masters[name] = argv
        slave_ports = ",".join(f"127.0.0.1:{option(a, '--slave-port')}" for a in masters.values())
        for _ in range(2):  # the scaled service: two replicas of the same command
            start("slave", localize(services["slave"]["command"], slave_ports))
        # The masters expect HAProxy's PROXY header (FRAMECAST_PROXY_PROTOCOL), as in compose.
        port, config = free_port(), tmp_path / "haproxy.cfg"
        web = [int(option(a, "--web-port")) for a in masters.values()]
        config.write_text(
            haproxy.local(port, [int(option(a, "--client-port")) for a in masters.values()], free_port(), web)
        )
        proxy = subprocess.Popen(
            ["haproxy", "-f", str(config), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        processes.append(proxy)
        wait_for_port(port, 10, proxy, "haproxy")
        server = f"{PUBLIC_HOST}:{port}"
        os.environ["SSL_CERT_FILE"] = str(certs.ca)  # this process's client trusts it the same way
        status = wait_until(
            lambda: (
                (s := Masters(server, tls=client_context(None)).status(secret="compose-test-secret"))
                and [x.state for x in s.slaves] == ["live", "live"]
                and s
            ),
            30,
        )
        assert sorted(m.id for m in status.masters) == ["master-1", "master-2"]
        assert all(s.addr.startswith(f"{PUBLIC_HOST}:") for s in status.slaves)  # FRAMECAST_ADVERTISE
        assert len({s.addr for s in status.slaves}) == 2  # each replica at its own port
        discovered = requests.get(f"http://127.0.0.1:{option(masters['master1'], '--metrics-port')}/sd", timeout=10)
        (slave_targets,) = [group["targets"] for group in discovered.json() if group["labels"]["role"] == "slave"]
        assert len(slave_targets) == 2 and all(t.startswith("127.0.0.1:") for t in slave_targets)  # --metrics-host
    finally:
        os.environ.pop("SSL_CERT_FILE", None)
        for process in processes:
            process.terminate()
            process.wait(10)
        clear_redis(f"fcc-{tag}:")
        drop_database(f"fccompose_{tag}")
